"""Dictionary learning against the numpy reference (laminar/reference.py).

usage: test_lca_learning.py LAMINAR_EXE

One laminar run with two independent canonical networks, 6 display periods each (6 learning events):
  momentum: stride 2, soft_nonneg, reset_on Input, learning_rate 0.1, momentum 0.5, normalize l2 (the
            initial weights in the file are NOT unit norm, so the initial normalisation is tested too),
            batch 4 over 10 images (presentations wrap around the data), input normalize: standardize;
  plain:    stride 1, soft, no momentum, normalize none (weights drift off unit norm), learning_rate 0.02.
Checked against the reference: the WeightRecorder history after every learning event, the final
weights in connections/<conn>/final_weights (1e-5 of the weights' scale), the Energy probe every step
(1e-5 relative) and the recorded code at the end of each display period; the momentum network's
kernels must be unit norm, and the plain network's not (so normalisation really is switched off).
"""
import sys

import numpy as np

import systest as st
from laminar import reference as ref

STEPS, DISPLAY, BATCH = 300, 50, 4


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    rng = np.random.default_rng(20240601)
    chk = st.Checker()
    with st.workdir() as tmp:
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-learning")
        momentum = st.Subnet(
            tag="momentum", images=(3.0 + 2.0 * st.random_images(rng, 10, 16, 16, 1)).astype(np.float32),
            weights=(3.0 * st.random_weights(rng, 8, 6, 1)).astype(np.float32),  # norm 3: normalised at start
            lca=ref.LCAParams(nx=8, ny=8, nf=8, tau=10.0, lam=0.3, threshold="soft_nonneg", reset_on_input=True),
            dictionary=ref.DictionaryParams(patch=6, learning_rate=0.1, momentum=0.5, normalize="l2"),
            input_normalize="standardize", record_period=DISPLAY, weight_period=DISPLAY)
        plain = st.Subnet(
            tag="plain", images=st.random_images(rng, 10, 12, 12, 2),
            weights=st.random_weights(rng, 3, 3, 2),
            lca=ref.LCAParams(nx=12, ny=12, nf=3, tau=10.0, lam=0.2, threshold="soft", self_interaction=True),
            dictionary=ref.DictionaryParams(patch=3, learning_rate=0.02, normalize="none"),
            record_period=DISPLAY, weight_period=DISPLAY)
        nets = [momentum, plain]
        for s in nets:
            s.write(tmp, params)
        run, secs = st.run_laminar(exe, params, tmp, "learning")
        print(f"laminar run took {secs:.2f} s")
        for s in nets:
            net = s.reference(BATCH, DISPLAY)
            traj = net.run(STEPS)
            w0 = s.weights.astype(np.float64)
            change = np.max(np.abs(traj.weights[-1] - (ref.normalize_l2(w0) if s.dictionary.normalize == "l2" else w0)))
            print(f"[{s.tag}] reference: largest weight change over the run {change:.3g}; "
                  f"energy at the end of each period {np.round(traj.energy[DISPLAY - 1::DISPLAY].mean(1), 2)}")
            chk.true(f"[{s.tag}] learning changes the weights visibly", change > 0.05)
            steps, hist = run.weight_history(s.n("Weights"))
            chk.true(f"[{s.tag}] WeightRecorder steps", np.array_equal(steps, np.arange(DISPLAY - 1, STEPS, DISPLAY)))
            chk.close(f"[{s.tag}] weights after each learning event", hist, traj.weights[steps])
            final = run.final_weights(s.n("Dictionary"))
            chk.close(f"[{s.tag}] final weights", final, traj.weights[-1])
            norms = np.sqrt(np.sum(final.astype(np.float64) ** 2, axis=(1, 2, 3)))
            if s.dictionary.normalize == "l2":
                chk.close(f"[{s.tag}] final kernels have unit L2 norm", norms, np.ones_like(norms), rtol=1e-5)
            else:
                chk.true(f"[{s.tag}] kernels drift off unit norm without normalize", np.max(np.abs(norms - 1)) > 1e-3,
                         f"norms {np.round(norms, 4)}")
            st.compare_recorded(chk, run, s, traj)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
