#!/bin/sh
# Tutorial 03, end to end: patches, training with and without feedback, inference, plots, numbers.
#   tutorials/03-hierarchical-feedback/run.sh [--output DIR] [--laminar EXE] [--tiny]
# Needs a built laminar (build/laminar, or LAMINAR=... / --laminar) and /usr/bin/python3 with numpy,
# h5py, matplotlib and scikit-image (Debian: python3-skimage).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/tutorial.py" "$@"
