#!/usr/bin/env python3
"""GPU benchmark of the paper's network: params/paper/deep-sparse-coding.yaml, 400 LCA steps per input pair.

Runs `laminar run` on a generated folder of 64x64 RGB faces with names (the paper's data is not
redistributable; the cost does not depend on the pictures), with the probes removed so that the
simulation itself is timed, for each batch size on the chosen backend, and once on the CPU backend for
comparison. Each configuration runs for P1 and P2 display periods (400 steps each); the time of one
display period is (t(P2) - t(P1)) / (P2 - P1), which removes start-up (reading images, rendering text,
allocating, uploading, cuBLAS initialisation). Reports:

  seconds per input pair   = time of one display period / batch  (the paper: ~6.3 s per pair, OpenPV, GTX 1080)
  achieved GFLOP/s         = dense-equivalent FLOPs / time: per step and batch element, every Convolution
                             delivers Phi a and its Transpose Phi^T e: 2 x positions x kernels x patch volume
                             multiply-adds each (counted from `laminar check`); the sparse scatter skips zeros,
                             so it does less arithmetic than counted. Learning (once per period) is not counted.
  fraction of peak         = achieved / the device's FP32 peak (table below, or --peak-tflops).

usage:
  /usr/bin/python3 benchmarks/gpu_paper_network.py [--laminar build/laminar] [--backend cuda]
        [--batches 1 4 8 16 32 64] [--periods 1 3] [--device-convolution auto|direct|gemm]
        [--cpu-batch 1] [--no-cpu] [--peak-tflops T] [--json FILE]
Exit status 3 (with the command to run) where the backend cannot be used (no GPU, or no CUDA build).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PAPER = os.path.join(ROOT, "params", "paper", "deep-sparse-coding.yaml")

# FP32 (non-tensor-core) peak, TFLOP/s, by the name CUDA reports.
PEAK_TFLOPS = [("H200", 66.9), ("H100 PCIe", 51.2), ("H100 NVL", 60.0), ("H100", 66.9), ("A100", 19.5),
               ("L40S", 91.6), ("L4", 30.3), ("RTX 4090", 82.6), ("V100", 15.7), ("GTX 1080", 8.9)]

NAMES = ["Halle Berry", "George Bush", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Marie Curie",
         "Emmy Noether", "Kurt Godel", "Rosalind Franklin", "Nikola Tesla", "Hedy Lamarr", "Claude Shannon"]


def make_faces(folder: str, count: int, size: int = 64, seed: int = 1):
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    with open(os.path.join(folder, "names.csv"), "w") as f:
        f.write("file,label,has_text\n")
        for i in range(count):
            img = np.stack([np.exp(-((yy - rng.random()) ** 2 + (xx - rng.random()) ** 2) * 8) for _ in range(3)], -1)
            Image.fromarray((255 * img).astype(np.uint8)).save(os.path.join(folder, f"face{i}.png"))
            f.write(f"face{i}.png,{NAMES[i % len(NAMES)]},{0 if i % 10 == 9 else 1}\n")


def check_geometry(check_out: str) -> tuple[dict, list]:
    """From `laminar check`'s output: each layer's size (ny, nx, nf), and each Convolution as
    (name, pre, post, kernels, patch_y, patch_x, features)."""
    sizes = {m[0]: tuple(map(int, m[1:])) for m in re.findall(r"^\s+(\S+) \(\w+\): (\d+)x(\d+)x(\d+)", check_out, re.M)}
    convs = [(m[0], m[1], m[2], *map(int, m[3:]))
             for m in re.findall(r"^\s+(\S+) \(Convolution\): (\S+) -> (\S+), weights (\d+)x(\d+)x(\d+)x(\d+)",
                                 check_out, re.M)]
    return sizes, convs


def dense_flops_per_step(check_out: str) -> tuple[float, list]:
    """2 FLOPs x (Phi a + Phi^T e) multiply-adds of every Convolution, per batch element and step."""
    sizes, convs = check_geometry(check_out)
    total, rows = 0.0, []
    for name, pre, post, k, py, px, f in convs:
        a, b = sizes[pre], sizes[post]
        coarse = a if a[0] * a[1] <= b[0] * b[1] else b
        macs = coarse[0] * coarse[1] * k * py * px * f
        rows.append((name, macs))
        total += 2 * 2 * macs
    return total, rows


def run(laminar, params, out, sets, quiet=True):
    env = dict(os.environ)
    cmd = [laminar, "run", params, "--output", out, "--overwrite", *sets] + (["-q"] if quiet else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    secs = time.perf_counter() - t0
    return p, secs, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laminar", default=os.path.join(ROOT, "build", "laminar"))
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64])
    ap.add_argument("--periods", type=int, nargs=2, default=[1, 3])
    ap.add_argument("--device-convolution", default="auto", choices=["auto", "direct", "gemm"])
    ap.add_argument("--cpu-batch", type=int, default=1)
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU backend comparison")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="laminar-gpubench-") as tmp:
        faces = os.path.join(tmp, "faces")
        make_faces(faces, max(64, 3 * max(args.batches + [args.cpu_batch])))
        p = yaml.safe_load(open(PAPER))
        p["probes"] = {}
        p["simulation"].pop("epochs", None)  # steps are given per run
        p["simulation"]["steps"] = int(p["simulation"]["display_period"])
        params = os.path.join(tmp, "paper.yaml")
        with open(params, "w") as f:
            yaml.safe_dump(p, f, sort_keys=False)
        data = ["--set", f"layers.Image.path={faces}", "--set", f"layers.Image.labels={faces}/names.csv"]
        period = int(p["simulation"]["display_period"])
        chk = subprocess.run([args.laminar, "check", params, *data], capture_output=True, text=True)
        if chk.returncode != 0:
            sys.exit(f"laminar check failed:\n{chk.stderr}")
        flops, rows = dense_flops_per_step(chk.stdout)
        print(f"paper network: {period} steps per input, dense-equivalent {flops / 1e6:.1f} MFLOP per step and pair "
              f"({flops * period / 1e9:.1f} GFLOP per pair)")
        for name, macs in rows:
            print(f"  {name:8s} {macs / 1e6:8.2f} M multiply-adds per delivery")

        def measure(backend, batch):
            times = []
            device = ""
            for n in args.periods:
                sets = data + ["--set", f"simulation.batch_size={batch}", "--set", f"simulation.steps={n * period}",
                               "--set", f"simulation.backend={backend}", "--set", f"simulation.nan_check={period}",
                               "--set", f"simulation.device_convolution={args.device_convolution}"]
                proc, secs, cmd = run(args.laminar, params, os.path.join(tmp, f"out-{backend}-{batch}-{n}"), sets,
                                      quiet=False)
                if proc.returncode != 0:
                    if "needs an NVIDIA GPU" in proc.stderr or "built without CUDA" in proc.stderr:
                        print(f"\nbackend {backend} cannot run here: {proc.stderr.strip()}\n"
                              f"Run this benchmark on a machine with an NVIDIA GPU and a CUDA build of laminar:\n"
                              f"  scripts/build && /usr/bin/python3 benchmarks/gpu_paper_network.py")
                        sys.exit(3)
                    sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
                m = re.search(r"laminar: backend \S+ \((.*)\)", proc.stdout)
                device = m.group(1) if m else device
                times.append(secs)
            per_period = (times[1] - times[0]) / (args.periods[1] - args.periods[0])
            return per_period, device

        results = {"flops_per_step_per_pair": flops, "steps_per_pair": period, "backend": args.backend,
                   "device_convolution": args.device_convolution, "runs": []}
        cpu = None
        if not args.no_cpu:
            per, _ = measure("cpu", args.cpu_batch)
            cpu = per / args.cpu_batch
            print(f"cpu backend ({os.cpu_count()} cores), batch {args.cpu_batch}: {cpu:.3f} s per pair, "
                  f"{flops * period * args.cpu_batch / per / 1e9:.1f} GFLOP/s")
            results["cpu_seconds_per_pair"] = cpu
        peak = args.peak_tflops
        print(f"\n| backend | batch | s per display period | s per pair | GFLOP/s | % of FP32 peak | vs cpu |")
        print("|---|---|---|---|---|---|---|")
        for b in args.batches:
            per, device = measure(args.backend, b)
            if peak is None:
                peak = next((t for n, t in PEAK_TFLOPS if n in device), None)
            gflops = flops * period * b / per / 1e9
            pct = f"{100 * gflops / (peak * 1e3):.1f}" if peak else "?"
            vs = f"{cpu / (per / b):.0f}x" if cpu else "-"
            print(f"| {args.backend} | {b} | {per:.3f} | {per / b:.4f} | {gflops:.0f} | {pct} | {vs} |", flush=True)
            results["runs"].append({"batch": b, "seconds_per_period": per, "seconds_per_pair": per / b,
                                    "gflops": gflops, "device": device, "peak_tflops": peak})
        if results["runs"]:
            best = min(results["runs"], key=lambda r: r["seconds_per_pair"])
            print(f"\ndevice: {results['runs'][0]['device']}; best batch {best['batch']}: {best['seconds_per_pair']:.4f} s "
                  f"per pair (OpenPV on a GTX 1080 in the paper: ~6.3 s per pair)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
