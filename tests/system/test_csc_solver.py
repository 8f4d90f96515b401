"""benchmarks/csc_solver.py --quick: the CSC solver comparison's own consistency checks pass.

usage: test_csc_solver.py LAMINAR_EXE

Runs the script on its --quick problem (the central 64x64 of the halved camera image, 16 kernels 12x12,
lambda 0.05) with two Laminar variants (one of them with the AdaptiveTimestep probe), 20 steps, and 30 ADMM
iterations, and checks from its --json output that:
  - every Laminar variant's Energy sample equals the numpy objective of its recorded code (Laminar's
    zero-boundary convention) to 1e-4 relative, its Residual term 1/2||e||^2 and its Stats zero fraction
    match the code, and the Lasso dual bound of the code lies below its objective;
  - the ADMM peer's objective decreases (circular on X, zero boundary on Y) and both its circular and
    zero-boundary objectives are reported at every reported iteration;
  - the table's rows are there (objective, PSNR, sparseness, wall time for every reported step count) and
    Laminar's energy does not increase for a stable constant timestep.
Exit 77 (skipped) where scikit-image (the camera image) is not importable.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "csc_solver.py")


def main():
    exe = sys.argv[1]
    try:
        import skimage.data  # noqa: F401
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: scikit-image is not importable ({e})")
        return 77
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        cmd = [sys.executable, SCRIPT, "--quick", "--laminar", exe, "--threads", "1", "--max-steps", "20",
               "--admm-iterations", "30", "--variants", "exp-1.9/L", "adaptive-1/L", "--json", out,
               "--plot", os.path.join(d, "r.png")]
        p = subprocess.run(cmd, capture_output=True, text=True)
        print(p.stdout[-6000:])
        print(p.stderr[-3000:])
        assert p.returncode == 0, f"csc_solver.py --quick exited {p.returncode}"
        r = json.load(open(out))
        assert os.path.getsize(os.path.join(d, "r.png")) > 1000
    names = [c["check"] for c in r["checks"]]
    assert all(c["passed"] for c in r["checks"]), [c for c in r["checks"] if not c["passed"]]
    for v in ("exp-1.9/L", "adaptive-1/L"):
        for what in ("Energy = numpy F(recorded code)", "Residual term", "Stats fraction_nonzero", "dual bound"):
            assert any(n.startswith(v + ":") and what in n for n in names), (v, what, names)
    assert any("ADMM objective decreases" in n for n in names)
    assert any("circular and zero-boundary" in n for n in names)
    assert len(r["laminar"]) == 2
    for v in r["laminar"]:
        steps = [row["steps"] for row in v["rows"]]
        assert steps == [5, 10, 20], steps
        for row in v["rows"]:
            for k in ("wall_s", "objective", "psnr", "psnr01", "sparseness"):
                assert np.isfinite(row[k]), (v["variant"], row)
            assert 0 <= row["sparseness"] <= 1
        E = np.array(v["curve"]["objective"])
        if not v["adaptive"]:
            assert np.all(np.diff(E) <= 1e-5 * E[0]), "energy increased at a stable timestep"
        assert E[-1] < 0.5 * E[0]
    a = r["admm"]
    assert [row["iterations"] for row in a] == [5, 10, 25, 30]
    for row in a:
        for k in ("objective_circular_X", "objective_circular_Y", "objective_zero_Y", "psnr_zero", "sparseness"):
            assert np.isfinite(row[k]), row
    assert a[-1]["objective_circular_X"] < a[0]["objective_circular_X"]
    assert a[-1]["objective_zero_Y"] < a[0]["objective_zero_Y"]
    lo, hi = r["optimum_bracket"]
    assert lo <= hi
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
