"""LCA `momentum` (heavy ball) against the numpy reference (laminar/reference.py), and what it is for.

usage: test_lca_momentum.py LAMINAR_EXE CASE

CASE:
  exponential, euler   one run, three canonical networks with momentum 0.9 and that integrator (soft with
                       reset_on: the previous step is zeroed with the membrane at every new input; soft_nonneg
                       and hard without: it carries over), batch 3, 240 steps, display period 120. Every step's
                       V1 membrane and activity, the error and the Energy probe's columns equal the reference's
                       (delta = (integrator's step) + 0.9 delta_prev; u += delta) to 1e-5 of each array's scale.
                       (The firm threshold is not among them: with momentum its ramp, of slope
                       (lambda + width)/width > 1, amplifies float32 rounding steadily, from 2e-7 at step 0 to
                       5e-3 of scale by step 237, with no jump; its kernel is checked in the unit tests.)
  adaptive             momentum 0.9 with an AdaptiveTimestep probe: the recorded timescale fed to the reference
                       gives the recorded trajectory (1e-3 of scale: the controller works at the edge of
                       stability, where float32 and float64 part ways step by step; see test_adaptive_timestep).
  descent              an ill-conditioned problem (8 smooth 6x6 kernels at stride 1 over a 24x24 image: the
                       largest eigenvalue of Phi^T Phi ~ 90, tau = ceil of it): momentum 0.9 reaches the energy
                       of 400 plain steps in fewer than half the steps; and momentum: 0 written out gives every
                       recorded value bit-identical to the key absent.
"""
import dataclasses
import math
import sys

import numpy as np

import systest as st
from laminar import reference as ref

STEPS, DISPLAY, BATCH = 240, 120, 3


def reference_case(exe, integrator, chk):
    tau = 10.0 if integrator == "exponential" else 8.0
    rng = np.random.default_rng(17 if integrator == "exponential" else 23)
    with st.workdir() as tmp:
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-{integrator}")
        subnets = []
        for kind, kw, stride in (("soft", dict(lam=0.4, reset_on_input=True), 1),
                                 ("soft_nonneg", dict(lam=0.3, init_value=0.5), 2),
                                 ("hard", dict(lam=0.5, a_max=1.5), 1)):
            lca = ref.LCAParams(nx=16 // stride, ny=16 // stride, nf=4, tau=tau, threshold=kind, integrator=integrator,
                                momentum=0.9, **kw)
            s = st.Subnet(tag=kind, images=st.random_images(rng, 5, 16, 16, 2), weights=st.random_weights(rng, 4, 5, 2),
                          lca=lca, dictionary=ref.DictionaryParams(patch=5, normalize="none"))
            s.write(tmp, params)
            subnets.append(s)
        run, secs = st.run_laminar(exe, params, tmp, integrator)
        print(f"{integrator}: laminar run took {secs:.2f} s")
        for s in subnets:
            traj = s.reference(BATCH, DISPLAY).run(STEPS)
            plain = ref.LCANetwork(s.images, s.weights, dataclasses.replace(s.lca, momentum=0.0), s.dictionary,
                                   batch=BATCH, display_period=DISPLAY).run(STEPS)
            a = traj.activity
            chk.true(f"[{s.tag}] code is sparse and nonzero", 0.0 < np.mean(a[-1] != 0) < 0.9)
            # the momentum must matter here (else the comparison below would not test it)
            diff = np.max(np.abs(traj.membrane - plain.membrane)) / np.max(np.abs(plain.membrane))
            chk.true(f"[{s.tag}] momentum changes the trajectory", diff > 0.05, f"{diff:.3g} of scale")
            st.compare_recorded(chk, run, s, traj)


def adaptive_case(exe, chk):
    rng = np.random.default_rng(5)
    with st.workdir() as tmp:
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-adaptive")
        s = st.Subnet(tag="adaptive", images=st.random_images(rng, 7, 16, 16, 1), weights=st.random_weights(rng, 8, 6, 1),
                      lca=ref.LCAParams(nx=8, ny=8, nf=8, tau=20.0, lam=0.3, threshold="soft", reset_on_input=True,
                                        momentum=0.9),
                      dictionary=ref.DictionaryParams(patch=6, normalize="none"))
        s.write(tmp, params)
        params["probes"]["Timestep"] = {"type": "AdaptiveTimestep", "energy": s.n("Energy"), "layers": [s.n("V1")],
                                        "base_min": 1.0, "base_max": 2.0, "tau_factor": 0.3, "growth_factor": 0.1}
        run, secs = st.run_laminar(exe, params, tmp, "adaptive")
        print(f"adaptive: laminar run took {secs:.2f} s")
        ts = run.probe("Timestep")["timescale"]
        chk.true("the timescale adapted", ts.max() > 1.5 and not np.all(ts == ts[:, :1]), f"max {ts.max():.3g}")
        traj = s.reference(BATCH, DISPLAY).run(STEPS, timescale=ts)
        st.compare_recorded(chk, run, s, traj, rtol=1e-3)


def smooth(x, sigma):
    k = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        x = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, x)
    return x


def descent_case(exe, chk):
    rng = np.random.default_rng(7)
    n, nk, patch, steps = 24, 8, 6, 400
    W = np.stack([smooth(rng.standard_normal((patch, patch)), 1.0) for _ in range(nk)])[..., None]
    W = (W / np.sqrt((W ** 2).sum(axis=(1, 2, 3), keepdims=True))).astype(np.float32)
    img = smooth(rng.standard_normal((n, n)), 1.5)[None, ..., None]
    img = (img / img.std()).astype(np.float32)
    v = rng.standard_normal((1, n, n, nk))  # the largest eigenvalue of Phi^T Phi (power iteration)
    for _ in range(100):
        v = ref.phi_t(W, ref.phi(W, v, (n, n, 1), 1), (n, n, nk), 1)
        L = np.linalg.norm(v)
        v /= L
    tau = float(math.ceil(L))
    print(f"descent: L = {L:.2f}, tau = {tau}")
    with st.workdir() as tmp:
        params = st.params_skeleton(steps, 1, steps, f"{tmp}/out-descent")
        for tag, mu in (("absent", None), ("zero", 0.0), ("mu09", 0.9)):
            s = st.Subnet(tag=tag, images=img, weights=W, dictionary=ref.DictionaryParams(patch=patch, normalize="none"),
                          lca=ref.LCAParams(nx=n, ny=n, nf=nk, tau=tau, lam=0.05, momentum=mu or 0.0),
                          record_period=1 if mu is None or mu == 0 else 0)
            s.write(tmp, params)
            if mu == 0.0:  # written out (Subnet.write leaves a zero momentum out)
                params["layers"][s.n("V1")]["momentum"] = 0.0
        run, secs = st.run_laminar(exe, params, tmp, "descent")
        print(f"descent: laminar run took {secs:.2f} s")
        for probe in ("Membrane", "Activity", "Residual"):
            _, a = run.recorder(f"{probe}_absent")
            _, b = run.recorder(f"{probe}_zero")
            chk.true(f"momentum: 0 is the plain update bit for bit ({probe})", a.dtype == b.dtype and np.array_equal(a, b))
        e0 = run.energy_arrays("Energy_absent")["energy"][:, 0]
        ez = run.energy_arrays("Energy_zero")["energy"][:, 0]
        em = run.energy_arrays("Energy_mu09")["energy"][:, 0]
        chk.true("momentum: 0 energies bit-identical", np.array_equal(e0, ez))
        # energy sample n is F(a(n-1)): the energy after n steps
        target = e0[steps - 1]
        reached = int(np.argmax(em <= target)) if np.any(em <= target) else steps
        print(f"descent: energy after 100/200/399 steps: plain {e0[100]:.4f}/{e0[200]:.4f}/{e0[399]:.4f}, "
              f"momentum 0.9 {em[100]:.4f}/{em[200]:.4f}/{em[399]:.4f}; momentum 0.9 reaches the plain 399-step "
              f"energy {target:.4f} at step {reached}")
        chk.true("the plain run is still descending (the problem is ill-conditioned)",
                 e0[200] - e0[399] > 1e-3 * e0[399], f"{e0[200]:.5f} -> {e0[399]:.5f}")
        chk.true("momentum 0.9 reaches the plain 400-step energy in under half the steps", reached < steps // 2,
                 f"step {reached}")
        chk.true("momentum 0.9 ends lower", em[-1] < e0[-1], f"{em[-1]:.5f} vs {e0[-1]:.5f}")


def main(argv):
    cases = ("exponential", "euler", "adaptive", "descent")
    if len(argv) != 3 or argv[2] not in cases:
        print(__doc__)
        return 2
    chk = st.Checker()
    if argv[2] in ("exponential", "euler"):
        reference_case(argv[1], argv[2], chk)
    elif argv[2] == "adaptive":
        adaptive_case(argv[1], chk)
    else:
        descent_case(argv[1], chk)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
