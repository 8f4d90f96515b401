#!/usr/bin/env python3
"""Strong and weak scaling of `laminar run` under mpirun (np 1, 2 and, oversubscribed, 4).

A fixed canonical network (ImageInput -> Error <- Convolution/Transpose -> LCA, stride 2, patch 8,
64 features, learning every display period) on random images. Strong scaling: the same problem at
each np (spatial decomposition, rows x columns chosen automatically with batch 1, or batch groups with
--batch-split). Weak scaling: the image side grows with sqrt(np) so each process keeps the same tile.
Reports the run loop's wall time (the file's `run_seconds`), speed-up, parallel efficiency and the
share of the loop spent in halo exchanges (`halo_seconds`: the largest over ranks, timed separately
in Communicator::halo). On a machine with fewer cores than processes (np 4 here) the efficiencies
measure oversubscription, not the code.

usage: mpi_scaling.py [--laminar build/laminar] [--size 64] [--steps 40] [--threads 1] [--batch-split]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import yaml


def params(tmp, side, batch, steps, out):
    rng = np.random.default_rng(1)
    data = os.path.join(tmp, f"images{side}.h5")
    if not os.path.exists(data):
        with h5py.File(data, "w") as f:
            f["images"] = rng.standard_normal((8, side, side, 1)).astype(np.float32)
    p = {"simulation": {"steps": steps, "batch_size": batch, "display_period": 20, "output": out, "csv": False},
         "layers": {"Input": {"type": "ImageInput", "path": data, "format": "hdf5", "normalize": "standardize"},
                    "Error": {"type": "Error"},
                    "V1": {"type": "LCA", "nx": side // 2, "ny": side // 2, "nf": 64, "tau": 100, "lambda": 0.1,
                           "reset_on": "Input"}},
         "connections": {"InToErr": {"type": "Identity", "pre": "Input", "post": "Error"},
                         "D": {"type": "Convolution", "pre": "V1", "post": "Error", "channel": "inhibitory",
                               "patch_size": 8, "learning_rate": 0.01},
                         "DT": {"type": "Transpose", "original": "D", "pre": "Error", "post": "V1"}},
         "probes": {}}
    path = os.path.join(tmp, f"net-{side}-{batch}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(p, f)
    return path


def run(exe, path, np_, out, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(np_), exe, "run", path, "-q", "-o", out, "--overwrite"]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    with h5py.File(os.path.join(out, "laminar.h5")) as f:
        return float(f.attrs["run_seconds"]), float(f.attrs["halo_seconds"]), f.attrs["mpi_decomposition"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laminar", default=os.path.join(os.path.dirname(__file__), "..", "build", "laminar"))
    ap.add_argument("--size", type=int, default=64, help="image side at np 1")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per process")
    ap.add_argument("--batch-split", action="store_true", help="batch 4 split over batch groups (strong only)")
    ap.add_argument("--nps", default="1,2,4")
    a = ap.parse_args()
    exe = os.path.abspath(a.laminar)
    nps = [int(x) for x in a.nps.split(",")]
    print(f"cores available: {os.cpu_count()}; OpenMP threads per process: {a.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("strong", "weak"):
            print(f"\n{mode} scaling ({'batch 4' if a.batch_split else 'batch 1'}, image side "
                  f"{a.size}{' x sqrt(np)' if mode == 'weak' else ''}, {a.steps} steps)")
            print(f"{'np':>3} {'decomposition':>14} {'side':>5} {'loop s':>8} {'speed-up':>9} {'efficiency':>10} "
                  f"{'halo share':>10}")
            base = None
            for np_ in nps:
                side = a.size if mode == "strong" else int(round(a.size * math.sqrt(np_) / 4)) * 4
                batch = 4 if a.batch_split else 1
                if mode == "weak" and a.batch_split:
                    side, batch = a.size, 4 * np_
                path = params(tmp, side, batch, a.steps, os.path.join(tmp, "out"))
                t, halo, dec = run(exe, path, np_, os.path.join(tmp, f"out-{mode}-{np_}"), a.threads)
                base = base or t
                speed = base / t if mode == "strong" else base / t * np_
                eff = speed / np_
                print(f"{np_:>3} {dec.decode() if isinstance(dec, bytes) else dec:>14} {side:>5} {t:>8.3f} "
                      f"{speed:>9.2f} {eff:>10.2f} {halo / t:>10.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
