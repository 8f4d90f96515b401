#!/bin/sh
# Tutorial 06, end to end: the photographs, the five dictionaries (two log-Gabor banks built by Laminar,
# each before and after learning, and one learned from random weights), every photograph coded by each,
# the paper's statistics and figures, and the small table 1 on Fashion-MNIST; figures, results.json and the
# tables printed.
#   tutorials/06-kernel-heterogeneity/run.sh [--output DIR] [--laminar EXE] [--quick | --tiny] [--threads N]
# Needs a built laminar (build/laminar, or LAMINAR=... / --laminar) and /usr/bin/python3 with numpy, scipy,
# h5py, matplotlib, PyYAML, scikit-image, Pillow and PyTorch, the wallpaper packages lomiri-wallpapers-16.04
# and lxqt-themes and Fashion-MNIST (dataset-fashion-mnist); scripts/setup installs them all.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$HERE/tutorial.py" "$@"
