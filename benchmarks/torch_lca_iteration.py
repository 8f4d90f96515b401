#!/usr/bin/python3
"""One LCA iteration in PyTorch on the shapes of benchmarks/bench_lca_iteration.cpp.

Input 64x64x3, V1 32x32x128 (stride 2), 8x8 patches, soft threshold, ~10% of V1 active:
    e = x - Phi a             conv_transpose2d(a, W, stride=2, padding=3)   (64x64 out)
    drive = Phi^T e           conv2d(e, W, stride=2, padding=3)             (32x32 out)
    u = d u + (1-d)(drive + a),  a = soft(u, lambda)
Laminar's patch placement (offset = -floor((patch - stride)/2) = -3, zero outside the grid) is
exactly padding=3 for both calls. The images are smooth random images (white noise blurred twice
by a 5x5 box, standardized) and the dictionary is uniform random with unit-L2 kernels, as in the
C++ benchmark; after the same warm-up (tau 20, lambda 0.3, 300 steps) V1 is ~10% active.

Run with OPENBLAS_NUM_THREADS=1 (set below before torch loads) and 2 intra-op threads.
Prints one JSON line per batch size: {"batch", "ms_median", "ms_min", "v1_active", "threads"}.
"""
import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def smooth_images(n, rng):
    img = rng.standard_normal((n, 3, 64, 64)).astype(np.float32)
    for _ in range(2):
        p = np.pad(img, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="edge")
        out = np.zeros_like(img)
        for dy in range(5):
            for dx in range(5):
                out += p[:, :, dy:dy + 64, dx:dx + 64]
        img = out / 25.0
    mean = img.mean(axis=(1, 2, 3), keepdims=True)
    std = img.std(axis=(1, 2, 3), keepdims=True)
    return torch.from_numpy((img - mean) / std)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lam", type=float, default=0.3)
    ap.add_argument("--tau", type=float, default=20.0)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=1.0, help="time spent measuring per repetition")
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)

    W = torch.rand(128, 3, 8, 8) * 2 - 1
    W /= W.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    decay = float(np.exp(-1.0 / args.tau))
    lam = args.lam

    for B in args.batch:
        x = smooth_images(B, rng)
        u = torch.zeros(B, 128, 32, 32)
        a = torch.zeros_like(u)

        def step(u, a):
            e = x - F.conv_transpose2d(a, W, stride=2, padding=3)
            drive = F.conv2d(e, W, stride=2, padding=3)
            u = decay * u + (1 - decay) * (drive + a)
            a = torch.sign(u) * torch.clamp(u.abs() - lam, min=0)
            return u, a

        with torch.no_grad():
            assert F.conv_transpose2d(a, W, stride=2, padding=3).shape == x.shape
            for _ in range(args.warmup):
                u, a = step(u, a)
            times = []
            for _ in range(args.repetitions):
                n, t0 = 0, time.perf_counter()
                while True:
                    u, a = step(u, a)
                    n += 1
                    dt = time.perf_counter() - t0
                    if dt >= args.seconds:
                        break
                times.append(1000.0 * dt / n)
            active = float((a != 0).float().mean())  # after timing, as the C++ benchmark reports it
        print(json.dumps({"batch": B, "ms_median": float(np.median(times)), "ms_min": min(times),
                          "v1_active": active, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
