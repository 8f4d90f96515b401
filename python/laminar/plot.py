"""python -m laminar.plot OUTPUT_DIR [--out DIR]: draw energy.png and the dictionaries of a run."""
from __future__ import annotations

import argparse
import os
import sys

from .plots import plot_run
from .run import Run


def main(argv=None) -> int:
    # `laminar-plot` (the installed command) or `python -m laminar.plot`
    prog = os.path.basename(sys.argv[0]) if sys.argv and not sys.argv[0].endswith(".py") else "python -m laminar.plot"
    ap = argparse.ArgumentParser(prog=prog, description=__doc__)
    ap.add_argument("output", help="a Laminar output folder (or its laminar.h5)")
    ap.add_argument("--out", help="where to write the PNGs (default: the output folder)")
    args = ap.parse_args(argv)
    try:
        run = Run(args.output)
    except (OSError, FileNotFoundError) as e:
        print(f"laminar.plot: error: {e}", file=sys.stderr)
        return 2
    for png in plot_run(run, args.out):
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
