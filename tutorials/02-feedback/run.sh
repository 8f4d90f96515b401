#!/bin/sh
# Tutorial 02, end to end: data, training, inference with and without feedback, plots, numbers.
#   tutorials/02-feedback/run.sh [--output DIR] [--laminar EXE] [--tiny] [--classes A B] [--set KEY=VALUE]...
# Needs a built laminar (build/laminar, or LAMINAR=... / --laminar) and /usr/bin/python3 with numpy,
# h5py, matplotlib, PIL, scikit-learn (Debian: python3-sklearn) and the Liberation fonts (fonts-liberation).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/tutorial.py" "$@"
