#!/usr/bin/env python3
"""The paper's network on this machine's CPU cores: Laminar against PyTorch, per connection against SGEMM.

params/paper/deep-sparse-coding.yaml (Kim, Hannan & Kenyon, "Deep Sparse Coding for Invariant Multimodal
Halle Berry Neurons", CVPR 2018: 400 LCA steps per image/text pair), probes removed, on generated 64x64
faces with names (benchmarks/gpu_paper_network.py's make_faces; the cost does not depend on the pictures).
Everything is measured in this one run, on this machine, with the same thread count:

  1. OpenBLAS SGEMM (numpy) at each connection's gather shape (M = batch x positions, K = patch volume,
     N = kernels) and at 2048^3: the practical peak.
  2. `laminar run --profile` at each batch size for `--periods` display periods: seconds per pair =
     loop time / steps x 400 / batch (start-up excluded: the profile times the step loop).
  3. benchmarks/torch_paper_network.py (an independent PyTorch implementation of the same network, checked
     against Laminar by the test system.torch_paper_network: dense conv2d / conv_transpose2d or matmul per
     connection, the fastest measured, OpenBLAS threads tuned) at each batch size, in a subprocess.
  4. At the best Laminar batch: per connection, ms per step, the multiply-adds actually needed (the
     gather Phi^T e is dense: the error is dense; the scatter Phi a only for nonzero activity, measured by a
     Stats probe on every LCA layer in an extra, untimed run), GFLOP/s of that non-zero work, SGEMM's
     GFLOP/s at the same shape, and the roofline bound min(FP32 multiply-add peak, bandwidth x FLOP/byte)
     with the bytes each delivery must move (weights once per step, for Phi a only the active kernels;
     input once; output read and written once), the measured bandwidth and the peak of
     build/benchmarks/bench_lca_iteration's BM_FmaPeak (OpenBLAS SGEMM 2048^3 where it is not built).
  5. Optionally (--energy) benchmarks/time_to_energy.py: steps and seconds to reach the energy 400 fixed
     steps reach, with and without the adaptive timestep.

usage:
  /usr/bin/python3 benchmarks/cpu_paper_network.py [--laminar build/laminar] [--batches 1 4 8 16]
        [--periods 1] [--threads 2] [--torch-steps 20] [--no-torch] [--energy] [--json FILE]
OMP_WAIT_POLICY=passive is set for every program (spinning OpenMP threads of one program make the other's
timings swing by 10x on a shared small machine).
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

import h5py
import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from gpu_paper_network import PAPER, check_geometry, make_faces  # noqa: E402


def sgemm_gflops(m: int, k: int, n: int, seconds: float = 0.3) -> float:
    a = np.random.default_rng(0).random((m, k), dtype=np.float32)
    b = np.random.default_rng(1).random((k, n), dtype=np.float32)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or reps < 3:
        a @ b
        reps += 1
    return 2.0 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def bandwidth_gbs() -> float:
    """Memory bandwidth of a streaming copy (numpy) of 256 MiB: read + write bytes per second."""
    x = np.ones(64 << 20, np.float32)
    y = np.empty_like(x)
    np.copyto(y, x)
    t0 = time.perf_counter()
    for _ in range(4):
        np.copyto(y, x)
    return 4 * 2 * x.nbytes / (time.perf_counter() - t0) / 1e9


def fma_peak(laminar: str, env: dict) -> float:
    """The cores' FP32 multiply-add peak (GFLOP/s) from bench_lca_iteration's BM_FmaPeak, 0 if not built."""
    exe = os.path.join(os.path.dirname(os.path.abspath(laminar)), "benchmarks", "bench_lca_iteration")
    if not os.path.exists(exe):
        return 0.0
    r = subprocess.run([exe, "--benchmark_filter=FmaPeak", "--benchmark_format=json"], capture_output=True,
                       text=True, env=env)
    if r.returncode != 0:
        return 0.0
    return float(json.loads(r.stdout)["benchmarks"][0]["GFLOP/s"]) / 1e9


def profile_of(h5: str) -> dict:
    with h5py.File(h5, "r") as f:
        g = f["profile"]
        names = g.attrs["items"]
        names = (names.decode() if isinstance(names, bytes) else str(names)).split("\n")
        return {"items": dict(zip(names, zip(g["seconds"][()].tolist(), g["calls"][()].tolist()))),
                "loop_seconds": float(g.attrs["loop_seconds"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laminar", default=os.path.join(ROOT, "build", "laminar"))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--periods", type=int, default=1, help="display periods (400 steps) timed per batch size")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--torch-steps", type=int, default=20, help="PyTorch steps timed per batch size")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--energy", action="store_true", help="also time to the 400-step energy (adaptive timestep)")
    ap.add_argument("--energy-batch", type=int, default=None, help="batch for --energy (default: the best)")
    ap.add_argument("--controller-layers", nargs="*", default=["E_V1", "V1", "E_T1", "T1"],
                    help="--energy also drives the adaptive timestep from an Energy probe over these layers only")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OMP_WAIT_POLICY="passive",
               OPENBLAS_NUM_THREADS=str(args.threads))
    os.environ.update(OPENBLAS_NUM_THREADS=str(args.threads))
    results = {"threads": args.threads, "cpu": os.cpu_count(), "batches": {}, "connections": []}

    with tempfile.TemporaryDirectory(prefix="laminar-cpubench-") as tmp:
        faces = os.path.join(tmp, "faces")
        make_faces(faces, max(64, 2 * max(args.batches)))
        p = yaml.safe_load(open(PAPER))
        p["probes"] = {}
        p["simulation"].pop("epochs", None)
        period = int(p["simulation"]["display_period"])
        p["simulation"]["steps"] = period
        p["layers"]["Image"]["path"] = faces
        p["layers"]["Image"]["labels"] = os.path.join(faces, "names.csv")
        params = os.path.join(tmp, "paper.yaml")
        with open(params, "w") as f:
            yaml.safe_dump(p, f, sort_keys=False)
        chk = subprocess.run([args.laminar, "check", params], capture_output=True, text=True)
        if chk.returncode != 0:
            sys.exit(f"laminar check failed:\n{chk.stderr}")
        sizes, convs = check_geometry(chk.stdout)

        # Every Convolution's geometry: coarse = the layer with the kernels (fewer positions).
        conv = {}
        for name, pre, post, k, py, px, f in convs:
            a, b = sizes[pre], sizes[post]
            coarse, fine = (pre, post) if a[0] * a[1] <= b[0] * b[1] else (post, pre)
            conv[name] = dict(coarse=coarse, fine=fine, positions=sizes[coarse][0] * sizes[coarse][1], kernels=k,
                              ksize=py * px * f, fine_size=int(np.prod(sizes[fine])),
                              coarse_size=int(np.prod(sizes[coarse])), pre=pre)
        transpose_of = {n: c["original"] for n, c in p["connections"].items() if c.get("type") == "Transpose"}
        dense_macs = sum(c["positions"] * c["kernels"] * c["ksize"] for c in conv.values())
        print(f"paper network: {period} steps per pair, {len(conv)} dictionaries, dense-equivalent "
              f"{4 * dense_macs / 1e6:.1f} MFLOP per step and pair (Phi a and Phi^T e); {args.threads} threads")

        bw = bandwidth_gbs()
        sgemm = sgemm_gflops(2048, 2048, 2048)
        fma = fma_peak(args.laminar, env)
        peak = fma or sgemm
        print(f"OpenBLAS SGEMM 2048^3: {sgemm:.0f} GFLOP/s; FP32 multiply-add peak (bench_lca_iteration "
              f"BM_FmaPeak): {fma:.0f} GFLOP/s; streaming copy: {bw:.1f} GB/s")
        results.update(sgemm_2048_gflops=sgemm, fma_peak_gflops=fma, bandwidth_gbs=bw, dense_macs_per_step=dense_macs)

        def laminar(batch, steps, extra=(), out="run"):
            o = os.path.join(tmp, f"{out}-{batch}")
            cmd = [args.laminar, "run", params, "--output", o, "--overwrite", "--progress", "none", "--profile",
                   "--set", f"simulation.batch_size={batch}", "--set", f"simulation.steps={steps}",
                   "--set", f"simulation.threads={args.threads}", *extra]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
            return os.path.join(o, "laminar.h5"), r.stdout

        torch_script = os.path.join(HERE, "torch_paper_network.py")
        print(f"\n| batch | Laminar s per pair | PyTorch s per pair | PyTorch / Laminar |")
        print("|---|---|---|---|")
        for b in args.batches:
            h5, _ = laminar(b, args.periods * period)
            prof = profile_of(h5)
            lam = prof["loop_seconds"] / (args.periods * period) * period / b
            entry = {"laminar_seconds_per_pair": lam, "profile": prof}
            tor = None
            if not args.no_torch:
                js = os.path.join(tmp, f"torch-{b}.json")
                cmd = [sys.executable, torch_script, "--batch", str(b), "--steps", str(args.torch_steps),
                       "--threads", str(args.threads), "--params", params, "--json", js]
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    print(f"(PyTorch failed: {r.stderr.strip()[-500:]})")
                else:
                    tor = json.load(open(js))["seconds_per_pair"]
                    entry["torch_seconds_per_pair"] = tor
            results["batches"][b] = entry
            ratio = f"{tor / lam:.1f}" if tor else "-"
            print(f"| {b} | {lam:.3f} | {tor:.3f} | {ratio} |" if tor else f"| {b} | {lam:.3f} | - | - |", flush=True)

        best = min(results["batches"], key=lambda b: results["batches"][b]["laminar_seconds_per_pair"])
        results["best_batch"] = best
        print(f"\nbest batch {best}: {results['batches'][best]['laminar_seconds_per_pair']:.3f} s per pair "
              f"(goal <= 1 s on 2 cores; the paper: ~6.3 s per pair, OpenPV on a GTX 1080)")

        # Activity of every LCA layer at every step of the same run (deterministic: the same activity as the
        # timed run), for the non-zero work of each scatter.
        lca = [n for n, l in p["layers"].items() if l.get("type") == "LCA"]
        stats = {f"S_{n}": {"type": "Stats", "layer": n, "period": 1} for n in lca}
        p2 = dict(p, probes=stats)
        params2 = os.path.join(tmp, "paper-stats.yaml")
        with open(params2, "w") as f:
            yaml.safe_dump(p2, f, sort_keys=False)
        o = os.path.join(tmp, "stats")
        subprocess.run([args.laminar, "run", params2, "--output", o, "--overwrite", "--progress", "none",
                        "--set", f"simulation.batch_size={best}", "--set", f"simulation.steps={args.periods * period}"],
                       check=True, capture_output=True, env=env)
        with h5py.File(os.path.join(o, "laminar.h5"), "r") as f:
            active = {n: float(np.mean(f[f"probes/S_{n}/fraction_nonzero"][()])) for n in lca}
        results["fraction_active"] = active

        prof = results["batches"][best]["profile"]
        steps = args.periods * period
        print(f"\nPer connection at batch {best} ({args.threads} threads; time from --profile; FLOPs counted only "
              f"for nonzero work; 'SGEMM' = OpenBLAS at the same M x K x N; roofline = min(FP32 multiply-add "
              f"peak, bandwidth x FLOP/byte)):\n")
        print("| delivery | what | ms/step | GFLOP per step | GFLOP/s | SGEMM GFLOP/s (same shape) | FLOP/byte | "
              "roofline GFLOP/s | % of roofline |")
        print("|---|---|---|---|---|---|---|---|---|")
        rows = []
        for item, (secs, calls) in prof["items"].items():
            m = re.match(r"deliver (\S+) \((Convolution|Transpose) ", item)
            if not m or calls == 0:
                continue
            name, kind = m.group(1), m.group(2)
            c = conv[name if kind == "Convolution" else transpose_of[name]]
            macs = best * c["positions"] * c["kernels"] * c["ksize"]
            if kind == "Convolution":  # Phi a from the code: only nonzero activity
                what = f"Phi a ({100 * active.get(c['coarse'], 1.0):.0f}% active)"
                macs *= active.get(c["coarse"], 1.0)
            else:
                what = "Phi^T e (dense)"
            flops = 2 * macs
            ms = 1e3 * secs / calls
            gf = flops / (secs / calls) / 1e9
            shape_peak = sgemm_gflops(best * c["positions"], c["ksize"], c["kernels"], 0.15)
            # Bytes each delivery must move at least: the weights once per step (for Phi a only the kernels
            # active in some batch element: 1 - (1 - f)^batch of them), its input once, its output read
            # and written once.
            if kind == "Transpose":
                bytes_ = 4 * (c["kernels"] * c["ksize"] + best * (c["fine_size"] + 2 * c["coarse_size"]))
            else:
                f = active.get(c["coarse"], 1.0)
                bytes_ = 4 * ((1 - (1 - f) ** best) * c["kernels"] * c["ksize"]
                              + best * (c["coarse_size"] + 2 * c["fine_size"]))
            intensity = flops / bytes_
            roof = min(peak, bw * intensity)
            rows.append(dict(delivery=name, kind=kind, ms_per_step=ms, gflop=flops / 1e9, gflops=gf,
                             sgemm_same_shape=shape_peak, flop_per_byte=intensity, roofline=roof))
            print(f"| {name} | {what} | {ms:.3f} | {flops / 1e9:.4f} | {gf:.0f} | {shape_peak:.0f} | "
                  f"{intensity:.1f} | {roof:.0f} | {100 * gf / roof:.0f}% |")
        results["connections"] = rows
        total = prof["loop_seconds"] / steps
        conv_ms = sum(r["ms_per_step"] for r in rows)
        print(f"\nstep: {1e3 * total:.2f} ms, of which convolutions {conv_ms:.2f} ms "
              f"({100 * conv_ms / (1e3 * total):.0f}%); per pair {total * period / best:.3f} s")

        if args.energy:
            from time_to_energy import time_to_energy
            eb = args.energy_batch or best
            print(f"\nTime to the energy {period} fixed steps reach (batch {eb}; AdaptiveTimestep with its defaults):")
            print("| run | controller energy | steps | s per batch | s per pair |")
            print("|---|---|---|---|---|")
            results["time_to_energy"] = []
            for layers in (None, args.controller_layers):
                if layers is not None and not layers:
                    continue
                r = time_to_energy(args.laminar, params, [f"simulation.batch_size={eb}", f"simulation.steps={period}"],
                                   steps=period, threads=args.threads, controller_layers=layers or None)
                results["time_to_energy"].append(dict(r, controller_layers=layers))
                runs = [("fixed", "-")] if layers is None else []
                runs.append(("adaptive", "total" if layers is None else " + ".join(layers)))
                for k, what in runs:
                    st, sec = r[k]["steps"], r[k]["seconds"]
                    print(f"| {k} | {what} | {st} | {sec:.3f} | {sec / eb:.3f} |" if st is not None else
                          f"| {k} | {what} | not reached | - | - |")
                print(f"(fixed / adaptive: {r.get('step_ratio')} in steps, {r.get('time_ratio')} in time)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)


if __name__ == "__main__":
    main()
