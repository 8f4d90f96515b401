#!/usr/bin/python3
"""Laminar vs PyTorch on one LCA iteration (64x64x3 -> V1 32x32x128, 8x8, stride 2, ~10% active).

Runs build/benchmarks/bench_lca_iteration (the engine: Network + Simulation::step) and
benchmarks/torch_lca_iteration.py on this machine, for each thread count, alternating the two,
and prints ms/iteration (median of repetitions, and the best) and the ratio torch/laminar
(> 1: Laminar is faster).

    /usr/bin/python3 benchmarks/compare_torch.py [--build build] [--threads 1 2] [--repetitions 5]

OMP_WAIT_POLICY defaults to passive for both: on a shared 2-core machine, spinning OpenMP
threads of either program otherwise make timings swing by 10x when another process runs.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def run_laminar(exe, threads, reps, seconds):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([str(exe), "--benchmark_filter=BM_EngineStep", f"--benchmark_repetitions={reps}",
                          f"--benchmark_min_time={seconds}", "--benchmark_format=json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        batch = int(b["batch"])
        ms = b["real_time"] if b["time_unit"] == "ms" else b["real_time"] / 1e6
        r = res.setdefault(batch, {"times": [], "v1_active": b["v1_active"]})
        r["times"].append(ms)
    return {k: {"median": sorted(v["times"])[len(v["times"]) // 2], "min": min(v["times"]), "v1_active": v["v1_active"]}
            for k, v in res.items()}


def run_torch(threads, reps, seconds):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    out = subprocess.run(["/usr/bin/python3", str(HERE / "torch_lca_iteration.py"), "--threads", str(threads),
                          "--repetitions", str(reps), "--seconds", str(seconds)],
                         env=env, check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        r = json.loads(line)
        res[r["batch"]] = {"median": r["ms_median"], "min": r["ms_min"], "v1_active": r["v1_active"]}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3, help="measuring time per repetition")
    args = ap.parse_args()
    exe = pathlib.Path(args.build) / "benchmarks" / "bench_lca_iteration"
    if not exe.exists():
        sys.exit(f"{exe} not found: build first (cmake --build {args.build})")
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  {os.cpu_count()} cpus  "
          f"load {os.getloadavg()[0]:.2f}  OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"{'threads':>7} {'batch':>5} {'laminar ms':>11} {'(best)':>7} {'torch ms':>9} {'(best)':>7} "
          f"{'torch/laminar':>13} {'V1 active L/T':>14}")
    for t in args.threads:
        lam = run_laminar(exe, t, args.repetitions, args.seconds)
        tor = run_torch(t, args.repetitions, args.seconds)
        for b in sorted(lam):
            L, T = lam[b], tor[b]
            print(f"{t:>7} {b:>5} {L['median']:>11.2f} {L['min']:>7.2f} {T['median']:>9.2f} {T['min']:>7.2f} "
                  f"{T['median'] / L['median']:>13.2f} {L['v1_active']:>6.3f}/{T['v1_active']:.3f}", flush=True)


if __name__ == "__main__":
    main()
