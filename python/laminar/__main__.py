"""python -m laminar COMMAND ...: the package's command-line tools.

    python -m laminar report OUTPUT [--shared-scale]   OUTPUT/report.html (laminar.report)
    python -m laminar plot OUTPUT [--out DIR]          energy.png, dictionary-*.png, activity-*.png (laminar.plot)
"""
from __future__ import annotations

import sys

COMMANDS = {"report": "write a static HTML report of a run (OUTPUT/report.html)",
            "plot": "draw a run's energy, dictionaries and recorded activity as PNGs"}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\ncommands:\n" + "\n".join(f"  {k:8s} {v}" for k, v in COMMANDS.items()))
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "report":
        from .report import main as run_cmd
    elif cmd == "plot":
        from .plot import main as run_cmd
    else:
        print(f"python -m laminar: error: unknown command {cmd!r} (commands: {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    return run_cmd(rest)


if __name__ == "__main__":
    sys.exit(main())
