"""LCA inference against the numpy reference (laminar/reference.py), step by step.

usage: test_lca_inference.py LAMINAR_EXE CASE      (CASE: one of CASES below, or "all")

Each case is one laminar run holding four independent canonical networks, one per threshold
(soft, soft_nonneg, hard, firm), sharing the case's stride, integrator and self-interaction setting.
Every network has batch 3, several features on both layers, random HDF5 data (5 images, so the
second presentation wraps around the data set) and exact initial weights from an HDF5 file
(normalize: none). 240 steps with display period 120: new images at step 120, and, for the networks
with reset_on, a membrane reset. V1 membrane and activity and the error are recorded every step and
must match the reference to 1e-5 of each array's scale; so must the Energy probe's columns.
"""
import sys

import numpy as np

import systest as st
from laminar import reference as ref

STEPS, DISPLAY, BATCH = 240, 120, 3

# name: (stride, integrator, self_interaction, input nf, V1 nf, patch, tau)
CASES = {
    "stride1_exponential_self": (1, "exponential", True, 2, 4, 5, 10.0),
    "stride2_exponential_noself": (2, "exponential", False, 1, 6, 6, 10.0),
    "stride1_euler_noself": (1, "euler", False, 1, 3, 4, 8.0),
    "stride2_euler_self": (2, "euler", True, 2, 5, 5, 8.0),  # odd patch - stride: offset -1
}

# per threshold: lambda, firm width, initial membrane, reset_on, clamps
THRESHOLDS = {
    "soft": dict(lam=0.4, init_value=0.0, reset_on_input=False),
    "soft_nonneg": dict(lam=0.3, init_value=0.5, reset_on_input=True),  # a(-1) = T(0.5) = 0.2 != 0
    "hard": dict(lam=0.5, init_value=0.0, reset_on_input=True),
    "firm": dict(lam=0.3, width=1.2, init_value=-0.6, reset_on_input=False, a_max=1.5),
}


def run_case(exe: str, name: str, tmp: str, chk: st.Checker):
    stride, integrator, self_int, nff, nk, patch, tau = CASES[name]
    ny = nx = 16
    rng = np.random.default_rng(sum(map(ord, name)))  # fixed data per case
    params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-{name}")
    subnets = []
    for i, (kind, kw) in enumerate(THRESHOLDS.items()):
        lca = ref.LCAParams(nx=nx // stride, ny=ny // stride, nf=nk, tau=tau, threshold=kind,
                            self_interaction=self_int, integrator=integrator, **kw)
        s = st.Subnet(tag=kind, images=st.random_images(rng, 5, ny, nx, nff),
                      weights=st.random_weights(rng, nk, patch, nff),
                      lca=lca, dictionary=ref.DictionaryParams(patch=patch, normalize="none"))
        s.write(tmp, params)
        subnets.append(s)
    run, secs = st.run_laminar(exe, params, tmp, name)
    print(f"{name}: laminar run took {secs:.2f} s")
    for s in subnets:
        traj = s.reference(BATCH, DISPLAY).run(STEPS)
        a = traj.activity
        print(f"[{s.tag}] reference: fraction nonzero at steps 119/239 = {np.mean(a[119] != 0):.3f}/"
              f"{np.mean(a[239] != 0):.3f}, max|a| = {np.max(np.abs(a)):.3f}")
        # the reference must exercise what it claims to: codes sparse but not empty
        chk.true(f"[{s.tag}] code is sparse and nonzero", 0.0 < np.mean(a[-1] != 0) < 0.9)
        st.compare_recorded(chk, run, s, traj)


def main(argv):
    if len(argv) != 3 or (argv[2] not in CASES and argv[2] != "all"):
        print(__doc__)
        return 2
    names = list(CASES) if argv[2] == "all" else [argv[2]]
    chk = st.Checker()
    with st.workdir() as tmp:
        for name in names:
            run_case(argv[1], name, tmp, chk)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
