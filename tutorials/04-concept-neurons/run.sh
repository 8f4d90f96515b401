#!/bin/sh
# Tutorial 04, end to end: data, the sparse-coding network and the feed-forward autoencoder trained on the
# same image/name pairs, every analysis on held-out test pairs, figures, results.json and the table.
#   tutorials/04-concept-neurons/run.sh [--output DIR] [--laminar EXE] [--quick | --tiny] [--threads N] [--set KEY=VALUE]...
# Needs a built laminar (build/laminar, or LAMINAR=... / --laminar) and /usr/bin/python3 with numpy, scipy,
# h5py, matplotlib, PyYAML, scikit-learn and PyTorch (Debian: python3-sklearn, python3-torch), the Liberation
# fonts (fonts-liberation) and Fashion-MNIST (dataset-fashion-mnist); scripts/setup installs them all.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/tutorial.py" "$@"
