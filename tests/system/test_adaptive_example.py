#!/usr/bin/env python3
"""params/examples/lca-adaptive-timestep.yaml: the example runs, and its adaptive timestep does what the
example says, judged against the same network with every timescale held at 1 (the fixed run):

  - the recorded timescales are 1 at the first step of every input and grow above 1 within it;
  - within every input, the adaptive run's energy reaches the energy the fixed run has after 400 steps
    in fewer steps, and ends at or below it.

Shortened to 3 inputs (1200 steps). Skipped (exit 77) when Debian's dataset-fashion-mnist is not installed.

    test_adaptive_example.py LAMINAR PARAMS
"""
import os
import subprocess
import sys

import h5py
import numpy as np

import systest as st

DATA = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
STEPS, PERIOD = 1200, 400


def run(exe, params, out, *sets):
    cmd = [exe, "run", params, "-q", "--output", out, "--steps", str(STEPS), *sum((["--set", s] for s in sets), [])]
    subprocess.run(cmd, check=True)
    with h5py.File(os.path.join(out, "laminar.h5"), "r") as f:
        e = f["probes/Energy/energy"][()]
        s = f["probes/Timestep/timescale"][()]
    return e.reshape(STEPS // PERIOD, PERIOD, -1), s.reshape(STEPS // PERIOD, PERIOD, -1)


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
        ea, sa = run(exe, params, os.path.join(tmp, "adaptive"))
        ef, sf = run(exe, params, os.path.join(tmp, "fixed"), "probes.Timestep.base_max=1",
                     "probes.Timestep.growth_factor=0")
    chk.true("the fixed run's timescales are all 1", np.all(sf == 1.0))
    chk.true("every input starts at timescale 1", np.all(sa[:, 0, :] == 1.0))
    chk.true("the timescale grows above 1 within every input", np.all(sa.max(axis=1) > 1.0), f"{sa.max(axis=1)}")
    target = ef[:, -1, :]  # the energy of 400 fixed steps, per input and batch element
    for p in range(ea.shape[0]):
        reached_a = [int(np.argmax(ea[p, :, b] <= target[p, b] * (1 + 1e-6))) for b in range(ea.shape[2])]
        ok = all(ea[p, reached_a[b], b] <= target[p, b] * (1 + 1e-6) for b in range(ea.shape[2]))
        print(f"input {p}: the adaptive run reaches the 400-step energy after {reached_a} steps")
        chk.true(f"input {p}: reached in fewer than 400 steps by every element", ok and max(reached_a) < PERIOD - 1)
        chk.true(f"input {p}: ends at or below the fixed run's energy",
                 np.all(ea[p, -1, :] <= target[p] * (1 + 1e-6)), f"{ea[p, -1]} vs {target[p]}")
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
