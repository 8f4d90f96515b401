"""The Energy probe: its columns from the recorded buffers, and energy descent within display periods.

usage: test_energy.py LAMINAR_EXE

One laminar run, two canonical networks (stride 2, soft threshold, learning with momentum on):
  stable:   exponential Euler, dt/tau = 0.05;
  unstable: forward Euler with dt/tau = 1 (u <- drive + a, the plain fixed-point iteration), which
            overshoots with overlapping kernels: the negative control showing the descent check can fail.
Checks, from numpy on the recorded Error and V1 buffers (ActivityRecorder, every step):
  * column <Error> at step n == 0.5 ||e(n)||^2 and column <V1> == lambda sum |a(n-1)| per batch
    element (1e-6 relative): the probe takes LCA terms at the start of the step, for the code a(n-1)
    that e(n) = x - Phi a(n-1) was computed from (a(-1) = T(u_init) = 0 here); energy == their sum;
  * stable network, within every display period (increases beyond 1e-6 of the value count):
      - the probe's energy, the LCA objective F(a(n-1)) = 0.5||x - Phi a(n-1)||^2 + lambda|a(n-1)|
        of one consistent state, never increases;
      - the energy falls at least 30% from the first to the last step of the period;
  * unstable network: the same descent check finds increases.
"""
import sys

import numpy as np

import systest as st
from laminar import reference as ref

STEPS, DISPLAY, BATCH = 300, 100, 3
LAMBDA = 0.3


def descent_violations(E: np.ndarray, display: int, rtol: float = 1e-6, skip: int = 0, last: int = 0):
    """Steps n where E(n+1) > E(n) (1 + rtol), for n at least `skip` steps into a display period and
    n + 1 at most its last step minus `last`; returns (n, batch element, E(n+1), E(n)) for each."""
    bad = []
    for n in range(E.shape[0] - 1):
        if n % display < skip or (n + 1) % display == 0 or (n + 1) % display > display - 1 - last:
            continue  # n + 1 in the next period (new images), or still settling
        worse = E[n + 1] > E[n] * (1 + rtol)
        if np.any(worse):
            bad.append((n, int(np.argmax(worse)), float(E[n + 1][worse].max()), float(E[n][worse].max())))
    return bad


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    rng = np.random.default_rng(11)
    chk = st.Checker()
    with st.workdir() as tmp, np.errstate(over="ignore", invalid="ignore"):  # the unstable net overflows
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-energy")
        params["simulation"]["nan_check"] = 0  # the unstable net overflows on purpose: no non-finite guard
        nets = {}
        for tag, integrator, tau in (("stable", "exponential", 20.0), ("unstable", "euler", 1.0)):
            s = st.Subnet(tag=tag, images=st.random_images(rng, 9, 16, 16, 1), weights=st.random_weights(rng, 8, 6, 1),
                          lca=ref.LCAParams(nx=8, ny=8, nf=8, tau=tau, lam=LAMBDA, threshold="soft",
                                            integrator=integrator),
                          dictionary=ref.DictionaryParams(patch=6, learning_rate=0.05, momentum=0.5))
            s.write(tmp, params)
            nets[tag] = s
        run, secs = st.run_laminar(exe, params, tmp, "energy")
        print(f"laminar run took {secs:.2f} s")
        for tag, s in nets.items():
            en = run.energy_arrays(s.n("Energy"))
            steps, e = run.recorder(s.n("Residual"))
            steps_a, a = run.recorder(s.n("Activity"))
            chk.true(f"[{tag}] recorders and energy sampled every step",
                     np.array_equal(steps, en["step"]) and np.array_equal(steps_a, en["step"]) and len(steps) == STEPS)
            e = e.astype(np.float64).reshape(STEPS, BATCH, -1)
            a = a.astype(np.float64).reshape(STEPS, BATCH, -1)
            finite = np.all(np.isfinite(e)) and np.all(np.isfinite(a))
            if finite:
                chk.close(f"[{tag}] column {s.n('Error')} = 0.5||e||^2", en[s.n("Error")], 0.5 * np.sum(e * e, axis=2),
                          rtol=1e-6, elementwise=True)
                a_prev = np.concatenate([np.zeros_like(a[:1]), a[:-1]])  # a(n-1); a(-1) = T(0) = 0
                chk.close(f"[{tag}] column {s.n('V1')} = lambda sum|a(n-1)|", en[s.n("V1")],
                          LAMBDA * np.sum(np.abs(a_prev), axis=2), rtol=1e-6, elementwise=True)
                chk.close(f"[{tag}] energy = sum of the columns", en["energy"], en[s.n("Error")] + en[s.n("V1")],
                          rtol=1e-12, elementwise=True)
            E = en["energy"]
            badF = descent_violations(E, DISPLAY)
            if tag == "stable":
                chk.true("[stable] energy F(a(n-1)) never increases within a display period", not badF,
                         f"{len(badF)} increases, first {badF[:3]}" if badF else f"{STEPS} steps")
                first, last = E[0::DISPLAY], E[DISPLAY - 1::DISPLAY]
                print(f"[stable] energy (batch mean) first/last step of each period: "
                      f"{np.round(first.mean(1), 2)} / {np.round(last.mean(1), 2)}")
                chk.true("[stable] energy falls >= 30% within every display period", bool(np.all(last < 0.7 * first)),
                         f"last/first ratios {np.round(last / first, 3).ravel()}")
            else:
                chk.true("[unstable] negative control: the descent check finds increases", len(badF) > 0,
                         f"{len(badF)} steps with an increase" + ("" if finite else " (buffers not finite)"))
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
