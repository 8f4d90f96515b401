"""params/examples/hierarchy-feedback.yaml: `laminar check` accepts it and a short run behaves.

usage: test_hierarchy_example.py LAMINAR_EXE PARAMS_FILE

  * `laminar check` exits 0 and its schedule has the Feedback into V1, with E2 reading V1's membrane
    from the previous step;
  * 200 steps (2 display periods, batch 2, learning on): the energy columns are finite, non-negative and positive at the end,
    the learned dictionaries Phi1/Phi2 keep unit-norm kernels, and the final batch's V1 and V2 codes
    are sparse and not empty;
  * with `--set connections.E2ToV1.strength=0` the run differs (the feedback acts), and its stored
    params hold the override.
Skipped (exit 77) when Debian's dataset-fashion-mnist is not installed.
"""
import os
import subprocess
import sys

import numpy as np

import systest as st

DATA = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def run(exe, params, out, *sets):
    args = [exe, "run", params, "--steps", "200", "-o", out, "-q", "--set", "simulation.display_period=100",
            "--set", "simulation.batch_size=2", "--set", "probes.Phi1Tiles.period=100"]
    for s in sets:
        args += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return st.Run(out)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    exe, params = argv[1], argv[2]
    if not os.path.exists(DATA):
        print(f"skipped: {DATA} not installed")
        return st.SKIP
    chk = st.Checker()
    proc = subprocess.run([exe, "check", params], capture_output=True, text=True)
    chk.true("laminar check exits 0", proc.returncode == 0, proc.stderr.strip())
    chk.true("schedule: V1 receives E2 through the Feedback", "- inhibitory <- E2.activity via E2ToV1 (Feedback), this step"
             in proc.stdout)
    chk.true("schedule: E2 reads V1's membrane from the previous step",
             "+ excitatory <- V1.membrane via U1ToE2 (Identity), previous step" in proc.stdout)
    with st.workdir() as tmp:
        fb = run(exe, params, os.path.join(tmp, "fb"))
        nofb = run(exe, params, os.path.join(tmp, "nofb"), "connections.E2ToV1.strength=0")
        e = fb.energy_arrays("Energy")
        for col in ("energy", "E1", "E2", "V1", "V2"):
            # at step 0 the codes and u1 are still 0, so E2, V1 and V2 start at 0
            chk.true(f"Energy.{col} finite, >= 0, and > 0 at the end",
                     bool(np.all(np.isfinite(e[col])) and np.all(e[col] >= 0) and np.all(e[col][-1] > 0)))
        for conn in ("Phi1", "Phi2"):
            w = fb.final_weights(conn).astype(np.float64)
            norms = np.sqrt(np.sum(w * w, axis=(1, 2, 3)))
            chk.close(f"{conn} kernels have unit norm after learning", norms, np.ones_like(norms))
        for stats in ("V1Stats", "V2Stats"):
            f = fb.probe(stats)["fraction_nonzero"][-1]
            chk.true(f"{stats}: final code sparse and not empty", bool(np.all((f > 0) & (f < 0.5))),
                     f"fraction nonzero {np.round(f, 3)}")
        d = float(np.max(np.abs(e["energy"] - nofb.energy_arrays("Energy")["energy"])))
        chk.true("strength 0 changes the run", d > 1e-3, f"max |energy difference| {d:.3g}")
        chk.true("override stored in the output params",
                 nofb.params["connections"]["E2ToV1"]["strength"] == 0)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
