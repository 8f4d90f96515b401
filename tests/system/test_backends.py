"""The paper's network on another backend against the CPU backend, and a device run's transfers.

usage: test_backends.py LAMINAR_EXE PARAMS_SMALL   (backend from LAMINAR_TEST_BACKEND: device_emulation or cuda)

1. params/paper/deep-sparse-coding-small.yaml (three vision layers, two text layers, the joint layer P1,
   feedback, masks, Hebbian learning with momentum on seven dictionaries) runs 400 steps, 4 display
   periods of 100 steps, batch 2, on generated faces, once on the CPU backend and once on the backend
   under test (with each device_convolution algorithm: auto, direct, gemm). Compared: every energy term at every step (relative 1e-5 per value), the joint code P1 at
   every step, the seven learned dictionaries after the 4 learning events, and the generated-image PNG
   files. The backends sum in different orders (the CPU delivers from sparse lists in registers, the
   device kernels one output element per thread), so equality is to rounding, not bitwise.
2. Residency: the same network without probes or learning, 30 and then 90 steps: a device-resident
   run makes exactly as many host<->device transfers in 90 steps as in 30 (none per step; the NaN guard
   reduces on the device and reads back one number per batch element).
3. `laminar run --gpu`: runs where a GPU can be used, else exactly one `laminar: error:` line saying why, exit 2.
4. device_emulation with a pretend free memory of 200 kB (LAMINAR_EMULATED_DEVICE_MEMORY): the network is
   refused before it allocates anything, naming the device memory it needs and what is free.
"""
import os
import re
import subprocess
import sys

import numpy as np
import yaml

import systest as st
from test_paper_params import make_faces

TRANSFERS = re.compile(r"host<->device transfers: (\d+) uploads \((\d+) KiB\), (\d+) downloads \((\d+) KiB\)")


def run(exe, params_path, out, backend, sets, quiet=True):
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
    args = [exe, "run", params_path, "--output", out, "--set", f"simulation.backend={backend}", *sets]
    proc = subprocess.run(args + (["-q"] if quiet else []), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        st.skip_if_no_gpu(proc.stderr)
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    exe, small = argv[1], argv[2]
    backend = st.BACKEND or "device_emulation"
    chk = st.Checker()
    with st.workdir() as tmp:
        make_faces(f"{tmp}/faces", 16, np.random.default_rng(5))
        data = ["--set", f"layers.Image.path={tmp}/faces", "--set", f"layers.Image.labels={tmp}/faces/names.csv"]
        sets = data + ["--set", "simulation.steps=400", "--set", "simulation.display_period=100"]
        run(exe, small, f"{tmp}/cpu", "cpu", sets)
        cpu = st.Run(f"{tmp}/cpu")
        ec = cpu.energy_arrays("Energy")
        _, pc = cpu.recorder("JointCode")
        for algorithm in ("auto", "direct", "gemm"):
            tag = f"[{backend}, device_convolution {algorithm}]"
            run(exe, small, f"{tmp}/{algorithm}", backend, sets + ["--set", f"simulation.device_convolution={algorithm}"])
            dev = st.Run(f"{tmp}/{algorithm}")
            ed = dev.energy_arrays("Energy")
            for term in sorted(ec):
                chk.close(f"{tag} energy {term}, 400 steps", ed[term], ec[term], rtol=1e-5,
                          atol=1e-6 * float(np.max(np.abs(ec[term])) + 1e-30), elementwise=True)
            _, pd = dev.recorder("JointCode")
            chk.close(f"{tag} joint code P1 at every step", pd, pc, rtol=1e-5)
            for c in ("Phi_V1", "Phi_V2", "Phi_V3", "Phi_T1", "Phi_T2", "Phi_PV", "Phi_PT"):
                chk.close(f"{tag} {c} after 4 learning events", dev.final_weights(c), cpu.final_weights(c), rtol=1e-5)
            for probe in ("GeneratedText", "GeneratedFace", "FaceReconstruction"):
                files = [sorted(os.listdir(f"{tmp}/{r}/{probe}")) if os.path.isdir(f"{tmp}/{r}/{probe}") else []
                         for r in ("cpu", algorithm)]
                chk.true(f"{tag} {probe}: the same PNG files", files[0] == files[1], f"{len(files[0])} files")

        # Residency: no probes, no learning event (display period beyond the run), NaN guard every step.
        p = yaml.safe_load(open(small))
        p["probes"] = {}
        p["simulation"].update(display_period=1000, nan_check=1)
        bare = f"{tmp}/bare.yaml"
        with open(bare, "w") as f:
            yaml.safe_dump(p, f)
        counts = []
        for steps in (30, 90):
            out = run(exe, bare, f"{tmp}/bare{steps}", backend, data + ["--set", f"simulation.steps={steps}"],
                      quiet=False)
            m = TRANSFERS.search(out)
            if not chk.true(f"{steps} steps: laminar reports its transfers", m is not None, out.strip()[-300:]):
                return chk.exit()
            counts.append(tuple(int(g) for g in m.groups()))
            print(f"     {steps} steps: {counts[-1][0]} uploads ({counts[-1][1]} KiB), "
                  f"{counts[-1][2]} downloads ({counts[-1][3]} KiB)")
        chk.true("no transfers per step (90 steps move as much as 30)", counts[0] == counts[1], str(counts))
        chk.true("the run did move its buffers to the device", counts[0][0] > 0, str(counts[0]))
        # --gpu: runs where a GPU can be used; anywhere else one clear error line and exit 2.
        proc = subprocess.run([exe, "run", small, "--output", f"{tmp}/gpu", "--gpu", "-q", *data,
                               "--set", "simulation.steps=2"], capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        print(f"     --gpu: exit {proc.returncode}; {lines[-1] if lines else ''}")
        chk.true("--gpu runs, or says in one line that no GPU (or no CUDA build) is there, exit 2",
                 proc.returncode == 0 or (proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(
                     "laminar: error:") and ("needs an NVIDIA GPU" in lines[0] or "built without CUDA" in lines[0])))
        if backend == "device_emulation":
            # A network too large for the (pretend) GPU is refused before anything is allocated.
            env = dict(os.environ, LAMINAR_EMULATED_DEVICE_MEMORY="200000")
            proc = subprocess.run([exe, "run", small, "--output", f"{tmp}/toolarge", "--set",
                                   f"simulation.backend={backend}", *data], capture_output=True, text=True, env=env)
            print(f"     {proc.stderr.strip()}")
            chk.true("too large for the device's free memory: a clear error, exit 2",
                     proc.returncode == 2 and "device memory" in proc.stderr and "simulation.backend" in proc.stderr
                     and "free" in proc.stderr and not os.path.exists(f"{tmp}/toolarge/laminar.h5"))
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
