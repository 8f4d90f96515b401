"""Tutorial 03 (tutorials/03-hierarchical-feedback) in its --tiny form, checked independently.

usage: test_tutorial_hierarchy.py LAMINAR_EXE [--full]

Runs `run.sh --tiny` (or the full tutorial with --full, for the slow test) into a scratch folder and
checks:
  * it exits 0 and writes prediction-error.png, convergence.png (PNG files) and results.json;
  * the inference run "2L-SPC dictionaries, feedback on": Laminar's Energy columns for all 16
    test patches equal the numpy reference (python/laminar/hierarchy.py, eq. 5) run on the same test
    patches with the dictionaries the tutorial saved, to 1e-5 (tiny only: the reference is slow);
  * results.json's final prediction errors and steps to converge equal those recomputed here from
    the recorded Energy probes (convergence: the first step after which |E(n)-E(n-1)|/E(n) < 1e-4).
Skipped (exit 77) when scikit-image is not installed.
"""
import json
import os
import sys

import h5py
import numpy as np

import systest as st
from laminar import hierarchy as H
from laminar import reference as ref

ROOT = os.path.normpath(os.path.join(st.HERE, "..", ".."))
TUT = os.path.join(ROOT, "tutorials", "03-hierarchical-feedback")


def steps_to_converge(E):
    rel = np.abs(np.diff(E, axis=0)) / np.abs(E[1:])
    out = []
    for b in range(E.shape[1]):
        above = np.nonzero(rel[:, b] >= 1e-4)[0]
        out.append(int(above[-1]) + 2 if len(above) else 1)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    full = "--full" in argv[2:]
    try:
        import skimage  # noqa: F401
    except ImportError:
        print("skipped: scikit-image (python3-skimage) not installed")
        return st.SKIP
    chk = st.Checker()
    with st.workdir() as tmp:
        out = os.path.join(tmp, "tutorial")
        proc = st.run_tutorial(TUT, argv[1], out, full, threads_when_full=False, tail=3000)
        if not chk.true("run.sh exits 0", proc.returncode == 0, proc.stderr[-2000:]):
            return chk.exit()
        for png in ("prediction-error.png", "convergence.png"):
            p = os.path.join(out, png)
            chk.true(f"{png} written", os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n")
        res = json.load(open(os.path.join(out, "results.json")))
        chk.true("summary printed", "2L-SPC vs Hi-La: total prediction error" in proc.stdout)
        for name, r in res["evals"].items():
            tag = f"eval-{r['model'].lower().replace('-', '')}-fb{int(r['feedback'])}"
            e = st.Run(os.path.join(out, tag)).energy_arrays()
            pe = (e["E1"] + e["E2"]).astype(np.float64)
            chk.close(f"[{name}] final prediction error in results.json", r["final_pe"], pe[-1].mean(), rtol=1e-6)
            chk.true(f"[{name}] steps to converge in results.json",
                     r["conv_steps"] == steps_to_converge(e["energy"].astype(np.float64)))
        if not full:
            # the feedback-on inference against the numpy reference, on every test patch
            with h5py.File(os.path.join(out, "data", "test.h5"), "r") as f:
                x = np.asarray(f["images"])
            with h5py.File(os.path.join(out, "dictionaries-2lspc.h5"), "r") as f:
                W1, W2 = np.asarray(f["Phi1"]), np.asarray(f["Phi2"])
            steps = res["settings"]["eval_steps"]
            B = x.shape[0]
            lv = [H.Level(ref.LCAParams(nx=8, ny=8, nf=16, tau=20, lam=0.3), W1, feedback=1.0),
                  H.Level(ref.LCAParams(nx=4, ny=4, nf=32, tau=20, lam=0.3), W2)]
            traj = H.Hierarchy(x, lv, B, steps).run(steps)
            e = st.Run(os.path.join(out, "eval-2lspc-fb1")).energy_arrays()
            for col, want in (("E1", traj.error_energy[0]), ("E2", traj.error_energy[1]),
                              ("V1", traj.sparsity_energy[0]), ("V2", traj.sparsity_energy[1]), ("energy", traj.energy)):
                chk.close(f"eval-2lspc-fb1 Energy.{col} vs reference", e[col], want, rtol=1e-5,
                          atol=1e-7 * float(np.max(want)), elementwise=True)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
