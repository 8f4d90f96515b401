"""The main example, params/examples/lca-fashion-mnist.yaml, at a reduced size, run from the CLI.

usage: test_example.py LAMINAR_EXE PARAMS_FILE

Runs `laminar run PARAMS --steps 600 -o DIR -q --set simulation.display_period=100 ...` (6 display
periods of 8 Fashion-MNIST images, 6 learning events) and checks with h5py:
  * the batch-mean energy at the end of a display period falls: the mean over the last two periods is
    at most 0.6 x the first period's (measured: 0.46), while the same run with learning_rate 0
    (a fixed random dictionary) stays above 0.85 x (measured: 0.97), so the fall is the learning;
  * the final dictionary (connections/Dictionary/final_weights, 32 x 8 x 8 x 1) and every recorded
    one have unit L2 norm per kernel (1e-5), and differ from the initial random dictionary;
  * the V1 code is non-negative (soft_nonneg) and sparse; overrides are in the stored params;
  * laminar itself draws no figures (one renderer): `python -m laminar.plot` writes energy.png and
    dictionary-Dictionary.png, and no second copy of the same dictionary (dictionary-DictionaryTiles.png).
Skipped (exit 77) when Debian's dataset-fashion-mnist is not installed.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

import systest as st

DATA = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
STEPS, DISPLAY = 600, 100
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def laminar(exe, params, out, *sets):
    args = [exe, "run", params, "--steps", str(STEPS), "-o", out, "-q",
            "--set", f"simulation.display_period={DISPLAY}", "--set", f"probes.V1Code.period={DISPLAY}",
            "--set", f"probes.DictionaryTiles.period={DISPLAY}", "--set", "simulation.batch_size=8"]
    for s in sets:
        args += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def period_end_energy(h5):
    with h5py.File(h5, "r") as f:
        E = np.asarray(f["probes/Energy/energy"])
        steps = np.asarray(f["probes/Energy/step"])
    ends = steps % DISPLAY == DISPLAY - 1
    return E[ends].mean(axis=1)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    exe, params = argv[1], argv[2]
    if not os.path.exists(DATA):
        print(f"SKIP: {DATA} not installed (apt install dataset-fashion-mnist)")
        return st.SKIP
    chk = st.Checker()
    with st.workdir() as tmp:
        out, control = os.path.join(tmp, "example"), os.path.join(tmp, "example-fixed")
        laminar(exe, params, out)
        laminar(exe, params, control, "connections.Dictionary.learning_rate=0")

        E = period_end_energy(os.path.join(out, "laminar.h5"))
        E0 = period_end_energy(os.path.join(control, "laminar.h5"))
        print(f"energy at the end of each display period (batch mean): learning {np.round(E, 2)}; "
              f"fixed dictionary {np.round(E0, 2)}")
        chk.true("6 display periods", len(E) == 6 and len(E0) == 6)
        ratio, ratio0 = E[-2:].mean() / E[0], E0[-2:].mean() / E0[0]
        chk.true("learning: last two periods' energy <= 0.6 x the first period's", ratio <= 0.6, f"{ratio:.3f}")
        chk.true("fixed dictionary: energy stays above 0.85 x the first period's", ratio0 > 0.85, f"{ratio0:.3f}")

        run = st.Run(out)
        final = run.final_weights("Dictionary").astype(np.float64)
        chk.true("final weights are 32 x 8 x 8 x 1", final.shape == (32, 8, 8, 1), str(final.shape))
        norms = np.sqrt(np.sum(final ** 2, axis=(1, 2, 3)))
        chk.close("final kernels have unit L2 norm", norms, np.ones_like(norms), rtol=1e-5)
        steps, hist = run.weight_history("DictionaryTiles")
        chk.true("DictionaryTiles sampled every display period",
                 np.array_equal(steps, np.arange(DISPLAY - 1, STEPS, DISPLAY)), str(steps))
        hn = np.sqrt(np.sum(hist.astype(np.float64) ** 2, axis=(2, 3, 4)))
        chk.close("recorded kernels have unit L2 norm", hn, np.ones_like(hn), rtol=1e-5)
        chk.close("last recorded dictionary is the final one", hist[-1], final, rtol=0, atol=0)
        chk.true("the dictionary changed over the run", np.max(np.abs(hist[-1] - hist[0])) > 0.05,
                 f"max change since step {DISPLAY - 1}: {np.max(np.abs(hist[-1] - hist[0])):.3f}")

        csteps, code = run.recorder("V1Code")
        chk.true("V1Code is (6, 8, 14, 14, 32)", code.shape == (6, 8, 14, 14, 32), str(code.shape))
        nz = float(np.mean(code != 0))
        chk.true("V1 code non-negative and sparse", bool(np.all(code >= 0)) and 0.0 < nz < 0.5, f"fraction nonzero {nz:.3f}")
        chk.true("overrides recorded in the stored params",
                 run.display_period == DISPLAY and run.simulation.get("steps") == STEPS
                 and run.params["layers"]["V1"]["threshold"] == "soft_nonneg",
                 f"display_period {run.display_period}, steps {run.simulation.get('steps')}")

        pngs = sorted(n for n in os.listdir(out) if n.endswith(".png"))
        chk.true("laminar wrote no figures of its own", not pngs, str(pngs))
        plots = os.path.join(tmp, "plots")
        proc = subprocess.run([sys.executable, "-m", "laminar.plot", out, "--out", plots], capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        chk.true("python -m laminar.plot succeeds", proc.returncode == 0, proc.stderr.strip()[-500:])
        for png in ("energy.png", "dictionary-Dictionary.png"):
            p = os.path.join(plots, png)
            chk.true(f"laminar.plot wrote {png}", os.path.exists(p) and is_png(p))
        chk.true("one figure per dictionary", not os.path.exists(os.path.join(plots, "dictionary-DictionaryTiles.png")),
                 str(sorted(os.listdir(plots))))
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
