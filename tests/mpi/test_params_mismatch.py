"""MPI processes that loaded different networks must stop at once with a clear error on every rank.

Each case launches two processes with an MPMD command line, `mpirun -np 1 laminar run a.yaml : -np 1
laminar run b.yaml`, as when a params file is edited while mpirun starts its processes. Before the check,
a V1 nf that differs corrupted the heap (the ranks exchange halos of different sizes) and hung mpirun,
and a `steps` that differs hung forever (the shorter rank finished while the other waited for it). Now
every rank compares a hash of its resolved params before building anything: the run must fail (exit
non-zero) within 10 seconds, with "rank 1's params differ from rank 0's" printed by both ranks.
Controls: the same file twice, and two files with the same contents, must run (no false mismatch).

usage: test_params_mismatch.py LAMINAR_EXE MPIRUN
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

LIMIT = 10.0  # seconds per case

NET = """simulation:
  steps: {steps}
  batch_size: 2
  display_period: 5
  output: {out}
layers:
  Input:
    type: ImageInput
    path: {data}
  Residual:
    type: Error
  V1:
    type: LCA
    nx: 8
    ny: 8
    nf: {nf}
    tau: 10
    lambda: 0.1
connections:
  InputToResidual:
    type: Identity
    pre: Input
    post: Residual
  D:
    type: Convolution
    pre: V1
    post: Residual
    channel: inhibitory
    patch_size: 4
  DT:
    type: Transpose
    original: D
    pre: Residual
    post: V1
"""


def launch(mpirun, first, second, cwd):
    """mpirun with one process running `first` and one running `second` (argument lists)."""
    cmd = [mpirun, "--oversubscribe", "-np", "1", *first, ":", "-np", "1", *second]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # mpirun and both ranks
        out, err = p.communicate()
        return None, time.monotonic() - t0, out, err
    return p.returncode, time.monotonic() - t0, out, err


def main():
    laminar, mpirun = os.path.abspath(sys.argv[1]), sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "images.h5")
        with h5py.File(data, "w") as f:
            f["images"] = np.random.default_rng(1).random((6, 16, 16, 1)).astype(np.float32)

        def params(name, steps=10, nf=8):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(NET.format(steps=steps, nf=nf, data=data, out=os.path.join(tmp, "out")))
            return path

        a = params("a.yaml")
        same = params("same_as_a.yaml")
        cases = [  # (name, rank 0's arguments, rank 1's, should they agree?)
            ("V1 nf 8 vs 16", ["run", "-q", a], ["run", "-q", params("b_nf16.yaml", nf=16)], False),
            ("steps 10 vs 20", ["run", "-q", a], ["run", "-q", params("c_steps20.yaml", steps=20)], False),
            ("--steps on one rank", ["run", "-q", a], ["run", "-q", a, "--steps", "15"], False),
            ("--set on one rank", ["run", "-q", a], ["run", "-q", a, "--set", "layers.V1.lambda=0.2"], False),
            ("check, nf 8 vs 16", ["check", a], ["check", params("d_nf16.yaml", nf=16)], False),
            ("the same file", ["run", "-q", a], ["run", "-q", a], True),
            ("two files, same contents", ["run", "-q", a], ["run", "-q", same], True),
        ]
        for i, (name, first, second, agree) in enumerate(cases):
            out_dir = ["-o", os.path.join(tmp, f"out{i}")]  # the same for both ranks: a fresh folder per case
            first, second = [a + (out_dir if a[0] == "run" else []) for a in (first, second)]
            rc, dt, out, err = launch(mpirun, [laminar, *first], [laminar, *second], tmp)
            problems = []
            if rc is None:
                problems.append(f"still running after {LIMIT:.0f} s (killed)")
            elif agree:
                if rc != 0:
                    problems.append(f"exit {rc}, expected 0")
                if "differ from rank 0" in err:
                    problems.append("a false params mismatch")
            else:
                if rc == 0:
                    problems.append("exit 0, expected an error")
                for rank in (0, 1):  # every rank says so, naming itself
                    line = f"laminar: error (rank {rank} of 2): rank 1's params differ from rank 0's (hash "
                    if line not in err:
                        problems.append(f"no '{line}...' on stderr")
                if "give every process the same params file" not in err:
                    problems.append("no advice in the message")
                if "malloc" in err or "corrupted" in err or "Segmentation" in err:
                    problems.append("memory corruption reported")
            if dt > LIMIT:
                problems.append(f"took {dt:.1f} s (limit {LIMIT:.0f} s)")
            print(f"{'FAIL' if problems else 'ok  '} {name}: exit {rc}, {dt:.1f} s" +
                  ("".join(f"\n       {p}" for p in problems)))
            if problems:
                print("       stderr:\n" + "".join(f"         {l}\n" for l in err.splitlines()[:20]))
                failures.append(name)
    if failures:
        print(f"{len(failures)} case(s) failed: {', '.join(failures)}")
        return 1
    print("all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
