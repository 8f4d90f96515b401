#!/usr/bin/env python3
"""Convolutional sparse coding of one image: Laminar's LCA against an ADMM ConvBPDN peer.

The solver comparison of Ladret, Casanova & Perrinet, "Kernel Heterogeneity Improves Sparseness of
Natural Images Representations" (2023), whose SPORCO ConvBPDN figures (ADMM, 2 cores, FFTW) the issue
quotes: objective 288.80 after 50 iterations in 75 s, 283.64 (PSNR 35.05 dB, sparseness 0.9932) after
200 iterations in 204 s. The goal: Laminar at an objective <= 283.64 on the same problem in <= 20 s.

The problem (fixed by the issue):
  x       scikit-image's `camera` (512x512 uint8) halved to 256x256 by 2x2 block means, scaled to [0, 1],
          mean removed (--quick: the central 64x64 of the halved image, mean removed);
  D       K = 144 kernels 12x12 (--quick: 16), numpy.random.default_rng(0).standard_normal((K, 12, 12)),
          each scaled to unit L2 norm;
  F(a)    1/2 ||x - sum_k d_k * a_k||^2 + lambda ||a||_1, lambda = 0.05.

Two boundary conventions, both reported:
  zero      Laminar's: the code lives on the image grid; kernel k of the code at (y, x) covers image rows
            y-5 .. y+6 and columns x-5 .. x+6 (offset -floor((p-1)/2) for p = 12), zero outside the image.
  circular  SPORCO's (ConvBPDN's DFT-domain solve): the code at (y, x) covers rows y .. y+11 modulo the
            image size. The ADMM solution is evaluated under both (its own circular objective, and the
            zero-boundary objective of the same code moved to Laminar's anchor, np.roll by 5); Laminar's
            under the zero-boundary one. The comparable numbers are the zero-boundary ones.

Solvers run here, one after the other, with --threads cores (default 2):
  Laminar   `laminar run` on a generated params file (ImageInput from HDF5, Error, LCA 256x256x144 soft
            threshold, Convolution init: file, Transpose, Energy probe every step, a Stats probe on V1
            every step, one ActivityRecorder of V1 after the last reported step; simulation.nan_check 0),
            one run per variant (tau, integrator, AdaptiveTimestep). Objective, PSNR and sparseness at
            step N come from the probes' samples (the Energy probe's sample of step N is F of the code
            after N steps; its Residual column is 1/2||e||^2); wall time at step N is the `elapsed_s` of
            laminar's jsonl progress line at step N (display_period = the first reported step count):
            the stepping loop only, probes included (two scalar reductions per step), network build and
            input loading excluded. The first two steps carry the input to V1 (Input -> Residual ->
            V1), so N steps are N - 2 LCA updates with a drive.
            Consistency check: the recorded code's objective in numpy (Laminar's convention) equals the
            Energy sample to 1e-4 relative, its 1/2||e||^2 the Residual column, its zero fraction the Stats
            sample: this is what validates the table's numbers.
  ADMM      ConvBPDN written from Wohlberg, "Efficient algorithms for convolutional sparse
            representations", IEEE TIP 2016 with SPORCO's ConvBPDN defaults: x-step by Sherman-Morrison per
            frequency in the DFT domain, y-step soft threshold, dual update, over-relaxation 1.8,
            rho = 50 lambda + 1, residual balancing every iteration (RsdlRatio 1.2, Scaling 1000 with
            AutoScaling, RsdlTarget 1 + 18.3^(log10 lambda + 1), normalised residuals), objective on X
            (AuxVarObj False: SPORCO's reported ObjFun); circular boundary; float64 like SPORCO on a float64
            image; scipy.fft with workers = --threads. Objectives (on X: SPORCO's number; on Y, the sparse
            code, under both boundaries) are computed at the reported iterations with the clock stopped.

Reference optimum (--reference ITERS): FISTA with adaptive (gradient) restart on the zero-boundary problem
(DFT on a zero-padded grid, float64), optionally warm-started from a code (--reference-init FILE.npy, e.g.
a Laminar code kept with --keep), with a certified lower bound from the Lasso dual: for any code a with
r = x - Phi a, nu = r min(1, lambda / ||Phi^T r||_inf) is dual feasible and
F* >= 1/2||x||^2 - 1/2||x - nu||^2. Cached in benchmarks/csc_solver_reference.json with a fingerprint of
the problem; the table run reads it. Every run also prints the dual bound of each Laminar variant's last
code, so the optimum is bracketed even without the cache.

PSNR (the paper's eq. 6): 20 log10(max(source)) - 10 log10(MSE) with MSE over the image's pixels. The
source is the zero-mean coded image (column PSNR); PSNR01 uses the max of the [0, 1] image before the mean
was removed (what SPORCO examples usually mean; the difference is a constant 20 log10(max01 / max0)).

usage:
  /usr/bin/python3 benchmarks/csc_solver.py [--laminar build/laminar] [--threads 2] [--max-steps 400]
        [--admm-iterations 200] [--variants NAME ...] [--json FILE] [--plot FILE] [--quick] [--keep DIR]
  /usr/bin/python3 benchmarks/csc_solver.py --reference 600 [--reference-init code.npy]
Exit 0 when every consistency check passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import scipy.fft as sfft

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE_FILE = os.path.join(HERE, "csc_solver_reference.json")
LAMBDA = 0.05
PATCH = 12
SPORCO = {"iterations": [50, 200], "objective": [288.80, 283.64], "seconds": [75.0, 204.0],
          "psnr": [None, 35.05], "sparseness": [None, 0.9932]}
GOAL_OBJECTIVE, GOAL_SECONDS = 283.64, 20.0


# ----------------------------------------------------------------------------------------------- problem
def make_problem(quick: bool):
    import skimage.data
    img = skimage.data.camera().astype(np.float64) / 255.0
    img = img.reshape(256, 2, 256, 2).mean(axis=(1, 3))
    K = 144
    if quick:
        img = img[96:160, 96:160]
        K = 16
    x01 = img.copy()
    x = img - img.mean()
    rng = np.random.default_rng(0)
    D = rng.standard_normal((K, PATCH, PATCH))
    D /= np.sqrt((D ** 2).sum(axis=(1, 2), keepdims=True))
    return x, x01, D


def fingerprint(x, D):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, np.float64).tobytes())
    h.update(np.ascontiguousarray(D, np.float64).tobytes())
    return h.hexdigest()[:16]


class ZeroOps:
    """Laminar's convolution (zero boundary) by the DFT on a zero-padded grid, float64."""

    def __init__(self, D, shape, workers, dtype=np.float64):
        K, p, _ = D.shape
        self.dtype = dtype
        self.o = (p - 1) // 2  # Laminar's offset: code (y, x) covers rows y-o .. y-o+p-1
        self.N = shape
        self.G = tuple(sfft.next_fast_len(n + p - 1, real=True) for n in shape)
        self.w = workers
        self.Df = sfft.rfft2(D.astype(dtype), s=self.G, workers=workers)  # kernel at the origin

    def phi(self, a):
        """sum_k d_k * a_k on the image grid: the full linear convolution, rows o .. o+N-1."""
        Af = sfft.rfft2(a.astype(self.dtype, copy=False), s=self.G, workers=self.w)
        full = sfft.irfft2((self.Df * Af).sum(0), s=self.G, workers=self.w)
        return full[self.o:self.o + self.N[0], self.o:self.o + self.N[1]]

    def phit(self, e):
        E = np.zeros(self.G, self.dtype)
        E[self.o:self.o + self.N[0], self.o:self.o + self.N[1]] = e
        Ef = sfft.rfft2(E, workers=self.w)
        g = sfft.irfft2(np.conj(self.Df) * Ef[None], s=self.G, workers=self.w)
        return g[:, :self.N[0], :self.N[1]]

    def lipschitz(self):
        """max over frequencies of sum_k |d_k(w)|^2 on the padded grid (the operator norm^2 of Phi)."""
        return float((np.abs(self.Df) ** 2).sum(0).max())


def objective_zero(ops, x, a, lam=LAMBDA):
    e = x - ops.phi(a)
    return 0.5 * float((e ** 2).sum()) + lam * float(np.abs(a).sum()), 0.5 * float((e ** 2).sum()), e


def dual_bound(ops, x, e, lam=LAMBDA):
    """A certified lower bound on the zero-boundary optimum from the residual e of any code."""
    g = float(np.abs(ops.phit(e)).max())
    nu = e * min(1.0, lam / g) if g > 0 else e
    return 0.5 * float((x ** 2).sum()) - 0.5 * float(((x - nu) ** 2).sum())


def psnr(mse, peak):
    return 20 * math.log10(peak) - 10 * math.log10(mse)


# ----------------------------------------------------------------------------------------------- Laminar
def lca_rate(tau, integrator, dt=1.0):
    return (1 - math.exp(-dt / tau)) if integrator == "exponential" else min(dt, tau) / tau


def tau_for(target, L, integrator):
    """tau such that the LCA's step (rate) times L equals target."""
    r = target / L
    return -1.0 / math.log(1 - r) if integrator == "exponential" else 1.0 / r


def variants(L):
    """name -> (LCA keys, extra probes). The issue's tau 100; rate x L at 1.0 and 1.9 (stability < 2)."""
    v = {
        "tau100": ({"tau": 100.0}, {}),
        "exp-1.9/L": ({"tau": tau_for(1.9, L, "exponential")}, {}),
        "exp-1.0/L": ({"tau": tau_for(1.0, L, "exponential")}, {}),
        "euler-1.9/L": ({"tau": tau_for(1.9, L, "euler"), "integrator": "euler"}, {}),
    }
    # AdaptiveTimestep (OpenPV's AdaptiveTimeScaleProbe): dt scaled by s >= 1 from the energy's descent, the
    # cap growing by half each step it is reached, s back to 1 after a rise; on a base rate of 1/L or 1.9/L.
    for base in (1.0, 1.9):
        v[f"adaptive-{base:g}/L"] = ({"tau": tau_for(base, L, "exponential")},
                                     {"Timestep": {"type": "AdaptiveTimestep", "energy": "Energy", "layers": ["V1"],
                                                   "base_max": 1.0, "tau_factor": 1.0, "growth_factor": 0.5}})
    # LCA momentum (OpenPV's MomentumLCALayer): heavy ball on the membrane's step, delta = step + mu delta_prev.
    for mu, base in ((0.9, 1.0), (0.9, 1.9), (0.8, 1.9), (0.95, 1.0)):
        v[f"momentum{mu:g}-{base:g}/L"] = ({"tau": tau_for(base, L, "exponential"), "momentum": mu}, {})
    return v


DEFAULT_VARIANTS = ["tau100", "exp-1.9/L", "adaptive-1/L", "adaptive-1.9/L", "momentum0.8-1.9/L", "momentum0.9-1.9/L"]


def write_h5(path, name, arr):
    with h5py.File(path, "w") as f:
        f[name] = arr


def run_laminar(exe, work, name, x, D, lca, extra_probes, steps_report, threads, record_step):
    """One `laminar run`; returns per-step energy, Residual term, zero fraction, elapsed at progress lines."""
    ny, nx = x.shape
    K = D.shape[0]
    os.makedirs(work, exist_ok=True)
    img, dic = os.path.join(work, "img.h5"), os.path.join(work, "dict.h5")
    if not os.path.exists(img):
        write_h5(img, "images", x[None].astype(np.float32))
        write_h5(dic, "weights", D[..., None].astype(np.float32))
    out = os.path.join(work, "out-" + name.replace("/", "_"))
    shutil.rmtree(out, ignore_errors=True)
    steps = record_step + 1  # the Energy sample of step record_step + 1 is F of the recorded code
    V1 = {"type": "LCA", "nx": nx, "ny": ny, "nf": K, "lambda": LAMBDA, "threshold": "soft"}
    V1.update(lca)
    params = {
        "simulation": {"steps": steps, "display_period": steps_report[0], "batch_size": 1, "dt": 1, "seed": 1,
                       "output": out, "threads": threads, "nan_check": 0},
        "layers": {"Input": {"type": "ImageInput", "path": img, "format": "hdf5"},
                   "Residual": {"type": "Error"}, "V1": V1},
        "connections": {
            "InputToResidual": {"type": "Identity", "pre": "Input", "post": "Residual", "channel": "excitatory"},
            "Dictionary": {"type": "Convolution", "pre": "V1", "post": "Residual", "channel": "inhibitory",
                           "patch_size": PATCH, "init": "file", "init_file": dic},
            "ResidualToV1": {"type": "Transpose", "original": "Dictionary", "pre": "Residual", "post": "V1",
                             "channel": "excitatory"}},
        "probes": {"Energy": {"type": "Energy"}, "V1Stats": {"type": "Stats", "layer": "V1"},
                   "V1Code": {"type": "ActivityRecorder", "layer": "V1", "period": record_step}},
    }
    params["probes"].update(extra_probes)
    pfile = os.path.join(work, "params-" + name.replace("/", "_") + ".yaml")
    with open(pfile, "w") as f:
        json.dump(params, f, indent=1)  # JSON is YAML
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.time()
    p = subprocess.run([exe, "run", pfile, "--progress", "jsonl"], capture_output=True, text=True, env=env)
    total = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"laminar run failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    elapsed = {}
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        line = line.strip()
        if line.startswith("{") and '"elapsed_s"' in line:
            j = json.loads(line)
            elapsed[int(j["step"])] = float(j["elapsed_s"])
    with h5py.File(os.path.join(out, "laminar.h5"), "r") as f:
        energy = f["probes/Energy/energy"][:, 0].astype(np.float64)
        resid = f["probes/Energy/Residual"][:, 0].astype(np.float64)
        estep = f["probes/Energy/step"][:]
        nz = f["probes/V1Stats/fraction_nonzero"][:, 0].astype(np.float64)
        code = f["probes/V1Code/data"][0, 0]  # (ny, nx, nf)
        cstep = f["probes/V1Code/step"][:]
        loop_s = float(f.attrs["run_seconds"])
    assert list(estep) == list(range(steps)), "the Energy probe samples every step"
    return {"energy": energy, "residual": resid, "nonzero": nz, "elapsed": elapsed, "code": code,
            "code_step": int(cstep[0]), "process_s": total, "loop_s": loop_s, "steps": steps, "params": pfile, "out": out}


# ----------------------------------------------------------------------------------------------- ADMM
def admm_cbpdn(x, D, lam, iterations, report, workers, zops, dtype=np.float64):
    """SPORCO ConvBPDN (defaults) on the circular problem; rows at the iterations in `report`."""
    N = x.shape
    K = D.shape[0]
    o = (D.shape[1] - 1) // 2
    x = x.astype(dtype)
    Df = sfft.rfft2(D.astype(dtype), s=N, workers=workers)  # (K, N0, N1//2+1)
    Sf = sfft.rfft2(x, workers=workers)
    DSf = np.conj(Df) * Sf
    DD = (np.abs(Df) ** 2).sum(0)
    rho = 50.0 * lam + 1.0
    xi = 1.0 + 18.3 ** (math.log10(lam) + 1.0)  # RsdlTarget
    mu, tau_s, alpha = 1.2, 1000.0, 1.8  # RsdlRatio, Scaling, RelaxParam
    Y = np.zeros((K,) + N, dtype)
    U = np.zeros_like(Y)
    rows, clock = [], 0.0

    def circ_obj(Xf_or_none, A):
        Af = Xf_or_none if Xf_or_none is not None else sfft.rfft2(A, workers=workers)
        rec = sfft.irfft2((Df * Af).sum(0), s=N, workers=workers)
        dfd = 0.5 * float(((rec - x) ** 2).sum())
        return dfd + lam * float(np.abs(A).sum()), dfd

    for k in range(iterations):
        t0 = time.perf_counter()
        Yprev = Y
        b = DSf + rho * sfft.rfft2(Y - U, workers=workers)
        Xf = (b - np.conj(Df) * ((Df * b).sum(0) / (rho + DD))[None]) / rho  # Sherman-Morrison
        X = sfft.irfft2(Xf, s=N, workers=workers)
        AX = alpha * X + (1 - alpha) * Y
        V = AX + U
        Y = np.sign(V) * np.maximum(np.abs(V) - lam / rho, 0)
        U += AX - Y
        rn = max(np.linalg.norm(X), np.linalg.norm(Y)) or 1.0
        sn = rho * np.linalg.norm(U) or 1.0
        r = np.linalg.norm(X - Y) / rn
        s = rho * np.linalg.norm(Yprev - Y) / sn
        if k != 0:  # AutoRho, Period 1
            if s == 0.0 or r == 0.0:
                mlt = tau_s
            else:
                mlt = min(math.sqrt(r / (s * xi) if r > s * xi else (s * xi) / r), tau_s)
            rsf = mlt if r > xi * mu * s else (1.0 / mlt if s > (mu / xi) * r else 1.0)
            rho *= rsf
            U /= rsf
        clock += time.perf_counter() - t0
        if k + 1 in report:
            objX, _ = circ_obj(Xf, X)  # SPORCO's ObjFun (AuxVarObj False)
            objY, dfdY = circ_obj(None, Y)
            Yl = np.roll(Y, (o, o), axis=(1, 2))  # Laminar's anchor: code (y, x) covers rows y-o ..
            objZ, dfdZ, _ = objective_zero(zops, x.astype(np.float64), Yl.astype(np.float64), lam)
            rows.append({"iterations": k + 1, "wall_s": clock, "objective_circular_X": objX,
                         "objective_circular_Y": objY, "objective_zero_Y": objZ,
                         "mse_circular": 2 * dfdY / x.size, "mse_zero": 2 * dfdZ / x.size,
                         "sparseness": float((Y == 0).mean()), "rho": rho, "r": r, "s": s})
    return rows, Y


# ----------------------------------------------------------------------------------------------- reference
def fista_reference(zops, exact, x, L, iterations, init=None, lam=LAMBDA, every=25, log=print):
    """FISTA with gradient-based adaptive restart on the zero-boundary problem; a certified dual bound.

    zops: the operators the iterations use (float32 for speed); exact: float64 ones for the objective and the
    bound (both are exact functions of the code, whatever produced it)."""
    x64 = x
    K, dt = zops.Df.shape[0], zops.dtype
    x = x.astype(dt)
    a = np.zeros((K,) + x.shape, dt) if init is None else init.astype(dt).copy()
    y, t = a.copy(), 1.0
    step = 1.0 / (L * 1.001)
    best, max_lb = None, -math.inf
    t0 = time.time()
    hist = []
    for it in range(1, iterations + 1):
        g = zops.phit(x - zops.phi(y))
        v = y + step * g
        an = np.sign(v) * np.maximum(np.abs(v) - lam * step, 0)
        if float(((y - an) * (an - a)).sum()) > 0:  # restart: momentum points uphill
            t = 1.0
        tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y = an + ((t - 1) / tn) * (an - a)
        a, t = an, tn
        if it % every == 0 or it == iterations:
            obj, dfd, e = objective_zero(exact, x64, a.astype(np.float64), lam)
            lb = dual_bound(exact, x64, e, lam)
            max_lb = max(max_lb, lb)  # every bound is valid: keep the highest
            if best is None or obj < best["objective"]:
                best = {"objective": obj, "iterations": it,
                        "psnr": psnr(2 * dfd / x.size, float(x64.max())), "sparseness": float((a == 0).mean())}
            best["lower_bound"] = max_lb
            hist.append((it, obj, lb))
            log(f"  FISTA {it:5d}  {time.time() - t0:7.1f} s  objective {obj:.4f}  dual bound {lb:.4f}  "
                f"gap {obj - lb:.4f}  sparseness {(a == 0).mean():.4f}")
    return best, hist, a


# ----------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--laminar", default=os.path.join(ROOT, "build", "laminar"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=400)
    ap.add_argument("--admm-iterations", type=int, default=200)
    ap.add_argument("--variants", nargs="*", default=None,
                    help=f"Laminar variants: {', '.join(DEFAULT_VARIANTS)} (default), exp-1.0/L, euler-1.9/L "
                         "(the same iteration as exp-1.9/L: both integrators give u <- (1-r) u + r (drive + a) "
                         "at one rate r), all, or none (the ADMM peer alone)")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    ap.add_argument("--quick", action="store_true", help="64x64 crop, 16 kernels (seconds; the ctest)")
    ap.add_argument("--keep", help="work in this folder and keep it (params, outputs, codes as .npy)")
    ap.add_argument("--reference", type=int, default=0, metavar="ITERS",
                    help="compute the reference optimum by FISTA for ITERS iterations and cache it")
    ap.add_argument("--reference-init", help="warm start for --reference: a code (K, ny, nx) .npy")
    ap.add_argument("--reference-file", default=REFERENCE_FILE)
    args = ap.parse_args(argv)

    x, x01, D = make_problem(args.quick)
    fp = fingerprint(x, D)
    zops = ZeroOps(D, x.shape, args.threads)
    L = zops.lipschitz()
    peak0, peak01 = float(x.max()), float(x01.max())
    print(f"problem: camera halved to {x.shape[0]}x{x.shape[1]}, zero mean (max {peak0:.4f}; the [0,1] image's "
          f"max {peak01:.4f}), K={D.shape[0]} unit-norm {PATCH}x{PATCH} kernels (default_rng(0) normal), "
          f"lambda={LAMBDA}, fingerprint {fp}")
    print(f"L = max_w sum_k |d_k(w)|^2 = {L:.2f} (LCA stable for rate * L < 2: tau > "
          f"{tau_for(2.0, L, 'exponential'):.1f} exponential, > {tau_for(2.0, L, 'euler'):.1f} euler)")
    print(f"0.5||x||^2 = {0.5 * float((x ** 2).sum()):.4f}")
    print(f"threads {args.threads}; load average before: {os.getloadavg()[0]:.2f}")

    ref_cache = {}
    if os.path.exists(args.reference_file):
        with open(args.reference_file) as f:
            ref_cache = json.load(f)

    if args.reference:
        init = np.load(args.reference_init) if args.reference_init else None
        print(f"reference: FISTA (adaptive restart) {args.reference} iterations on the zero-boundary problem"
              + (f", warm start {args.reference_init}" if init is not None else ""), flush=True)
        best, hist, a = fista_reference(ZeroOps(D, x.shape, args.threads, np.float32), zops, x, L,
                                        args.reference, init,
                                        log=lambda s: print(s, flush=True))
        old = ref_cache.get(fp)
        entry = dict(best, method="FISTA with adaptive restart" + (" (warm start)" if init is not None else ""),
                     shape=list(x.shape), kernels=D.shape[0], date=time.strftime("%Y-%m-%d"))
        if old:  # keep the best primal and the best bound of any computation
            entry["objective"] = min(old["objective"], entry["objective"])
            entry["lower_bound"] = max(old["lower_bound"], entry["lower_bound"])
        ref_cache[fp] = entry
        with open(args.reference_file, "w") as f:
            json.dump(ref_cache, f, indent=1)
        print(f"optimum in [{entry['lower_bound']:.4f}, {entry['objective']:.4f}]; written to {args.reference_file}")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            np.save(os.path.join(args.keep, "fista_code.npy"), a.astype(np.float32))
        return 0

    base = 5 if args.quick else 25
    report = []
    n = base
    while n <= args.max_steps:
        report.append(n)
        n *= 2
    if not report:
        report = [args.max_steps]
    last = report[-1]
    checks, ok = [], True

    def check(name, passed, detail):
        nonlocal ok
        ok &= bool(passed)
        checks.append({"check": name, "passed": bool(passed), "detail": detail})
        print(f"  check {'PASS' if passed else 'FAIL'}: {name}: {detail}")

    work = args.keep or tempfile.mkdtemp(prefix="csc_solver_")
    allv = variants(L)
    names = args.variants or DEFAULT_VARIANTS
    if names == ["all"]:
        names = list(allv)
    elif names == ["none"]:  # the ADMM peer alone
        names = []
    results = {"problem": {"shape": list(x.shape), "kernels": D.shape[0], "patch": PATCH, "lambda": LAMBDA,
                           "fingerprint": fp, "L": L, "max_zero_mean": peak0, "max_01": peak01,
                           "half_norm2_x": 0.5 * float((x ** 2).sum())},
               "threads": args.threads, "laminar": [], "admm": None, "sporco_quoted": SPORCO,
               "reference": ref_cache.get(fp), "checks": checks}
    lam_exe = os.path.abspath(args.laminar)
    try:
        for name in names:
            lca, probes = allv[name]
            integ = lca.get("integrator", "exponential")
            rate = lca_rate(lca["tau"], integ)
            print(f"\nLaminar {name}: tau {lca['tau']:.2f} {integ}, rate {rate:.5f}, rate*L {rate * L:.3f}"
                  + (" + AdaptiveTimestep" if probes else ""), flush=True)
            r = run_laminar(lam_exe, work, name, x, D, lca, probes, report, args.threads, last + 1)
            E, R, NZ, el = r["energy"], r["residual"], r["nonzero"], r["elapsed"]
            # consistency: the recorded code (after last+1 steps) against the Energy sample of step last+1
            code = np.moveaxis(r["code"].astype(np.float64), -1, 0)  # (K, ny, nx)
            obj, dfd, e = objective_zero(zops, x, code)
            s = last + 1
            rel = abs(obj - E[s]) / abs(obj)
            check(f"{name}: Energy = numpy F(recorded code)", rel < 1e-4,
                  f"step {s}: laminar {E[s]:.5f}, numpy {obj:.5f}, rel {rel:.1e}")
            relr = abs(dfd - R[s]) / dfd
            check(f"{name}: Residual term = numpy 1/2||e||^2", relr < 1e-4, f"rel {relr:.1e}")
            zf = float((code != 0).mean())
            check(f"{name}: Stats fraction_nonzero = recorded code's", abs(NZ[s - 1] - zf) < 1e-6,
                  f"stats {NZ[s - 1]:.6f} (sample of step {s}), code {zf:.6f}")
            lb = dual_bound(zops, x, e)
            check(f"{name}: dual bound <= objective", lb <= obj + 1e-9, f"bound {lb:.4f} <= {obj:.4f}")
            # wall time: the progress lines (at most one per 0.5 s, at display-period ends), else interpolated
            # between them and the loop's total (laminar.h5 run_seconds)
            known = dict(el)
            known[r["steps"]] = r["loop_s"]
            ks = sorted(known)
            curve_t = np.interp(np.arange(len(E)), [0] + ks, [0.0] + [known[k] for k in ks])
            rows = []
            for N in report:
                mse = 2 * R[N] / x.size
                rows.append({"steps": N, "wall_s": float(curve_t[N]), "wall_from": "progress" if N in el else
                             "interpolated", "objective": float(E[N]), "psnr": psnr(mse, peak0),
                             "psnr01": psnr(mse, peak01), "sparseness": 1.0 - float(NZ[N - 1])})
            results["laminar"].append({"variant": name, "tau": lca["tau"], "integrator": integ, "rate": rate,
                                       "rate_times_L": rate * L, "adaptive": bool(probes), "rows": rows,
                                       "dual_bound_last_code": lb, "objective_last_code": obj,
                                       "curve": {"steps": list(range(len(E))), "objective": E.tolist(),
                                                 "wall_s": curve_t.tolist()},
                                       "process_s": r["process_s"]})
            if args.keep:
                np.save(os.path.join(work, f"code-{name.replace('/', '_')}.npy"), code.astype(np.float32))
            for row in rows:
                print(f"  {row['steps']:5d} steps  {row['wall_s']:7.2f} s{'*' if row['wall_from'] != 'progress' else ' '} "
                      f"F {row['objective']:.4f}  PSNR {row['psnr']:.2f}  sparseness {row['sparseness']:.4f}",
                      flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if args.admm_iterations > 0:
        rep = sorted({i for i in [5, 10, 25, 50, 100, 200, 400, 800] if i <= args.admm_iterations}
                     | {args.admm_iterations})
        print(f"\nADMM ConvBPDN (SPORCO defaults, circular), {args.admm_iterations} iterations", flush=True)
        arows, _ = admm_cbpdn(x, D, LAMBDA, args.admm_iterations, set(rep), args.threads, zops)
        for row in arows:
            row["psnr_zero"] = psnr(row["mse_zero"], peak0)
            row["psnr_circular"] = psnr(row["mse_circular"], peak0)
            row["psnr01_circular"] = psnr(row["mse_circular"], peak01)
            print(f"  {row['iterations']:5d} it  {row['wall_s']:7.2f} s  F_circ(X) {row['objective_circular_X']:.4f}"
                  f"  F_circ(Y) {row['objective_circular_Y']:.4f}  F_zero(Y) {row['objective_zero_Y']:.4f}  "
                  f"rho {row['rho']:.3g}", flush=True)
        results["admm"] = arows
        fz = [r["objective_zero_Y"] for r in arows]
        fc = [r["objective_circular_X"] for r in arows]
        check("ADMM objective decreases (zero boundary, on Y)", fz[-1] < fz[0], f"{fz[0]:.4f} -> {fz[-1]:.4f}")
        check("ADMM objective decreases (circular, on X)", fc[-1] < fc[0], f"{fc[0]:.4f} -> {fc[-1]:.4f}")
        check("ADMM circular and zero-boundary objectives reported",
              all(np.isfinite([r["objective_circular_X"], r["objective_circular_Y"], r["objective_zero_Y"]]).all()
                  for r in arows), f"{len(arows)} rows")
    results["load_average_after"] = os.getloadavg()[0]

    # ------------------------------------------------------------------ table
    print("\n" + "=" * 110)
    print("objective F = 1/2||x - sum_k d_k * a_k||^2 + 0.05 ||a||_1; F zero: Laminar's zero boundary; "
          "F circ: SPORCO's circular boundary")
    print(f"PSNR = 20 log10(max x) - 10 log10(MSE), x the zero-mean coded image (max {peak0:.4f}); "
          f"PSNR01 with the [0,1] image's max {peak01:.4f}")
    hdr = f"{'solver':<26} {'steps/it':>8} {'wall s':>8} {'F zero':>10} {'F circ':>10} {'PSNR':>7} {'PSNR01':>7} {'sparse':>7}"
    print(hdr)
    print("-" * len(hdr))
    for v in results["laminar"]:
        for row in v["rows"]:
            print(f"{'Laminar ' + v['variant']:<26} {row['steps']:>8} {row['wall_s']:>7.2f}{'*' if row['wall_from'] != 'progress' else ' '} "
                  f"{row['objective']:>10.4f} {'':>10} {row['psnr']:>7.2f} {row['psnr01']:>7.2f} "
                  f"{row['sparseness']:>7.4f}")
    if results["admm"]:
        for row in results["admm"]:
            print(f"{'ADMM (X: SPORCO ObjFun)':<26} {row['iterations']:>8} {row['wall_s']:>8.2f} {'':>10} "
                  f"{row['objective_circular_X']:>10.4f}")
            print(f"{'ADMM (Y, sparse code)':<26} {row['iterations']:>8} {row['wall_s']:>8.2f} "
                  f"{row['objective_zero_Y']:>10.4f} {row['objective_circular_Y']:>10.4f} {row['psnr_zero']:>7.2f} "
                  f"{psnr(row['mse_zero'], peak01):>7.2f} {row['sparseness']:>7.4f}   (PSNR circ "
                  f"{row['psnr_circular']:.2f})")
    if not args.quick:
        for i, it in enumerate(SPORCO["iterations"]):
            print(f"{'SPORCO (quoted, circular)':<26} {it:>8} {SPORCO['seconds'][i]:>8.2f} {'':>10} "
                  f"{SPORCO['objective'][i]:>10.4f}" + (f" {SPORCO['psnr'][i]:>7.2f} {'':>7} {SPORCO['sparseness'][i]:>7.4f}"
                                                          if SPORCO['psnr'][i] else ""))
    ref = results["reference"]
    bounds = [v["dual_bound_last_code"] for v in results["laminar"]]
    best = min([v["objective_last_code"] for v in results["laminar"]] or [float("inf")])
    lo = max(bounds + ([ref["lower_bound"]] if ref else []) or [float("-inf")])
    hi = min([best] + ([ref["objective"]] if ref else []))
    results["optimum_bracket"] = [lo, hi]
    print("-" * len(hdr))
    print("Laminar wall s: the stepping loop to the end of step N (jsonl progress elapsed_s; * interpolated between "
          "progress lines and run_seconds); ADMM: its iterations without the objective evaluations")
    print(f"zero-boundary optimum F* in [{lo:.4f}, {hi:.4f}] (lower: Lasso dual bound; upper: best code"
          + (f"; cached reference: {ref['method']}, {ref['iterations']} it, {ref['date']}" if ref else
             "; no cached reference for this problem: --reference ITERS") + ")")
    if not args.quick:
        reach = [(v["variant"], row) for v in results["laminar"] for row in v["rows"]
                 if row["wall_s"] is not None and row["objective"] <= GOAL_OBJECTIVE]
        if reach:
            n, row = min(reach, key=lambda t: t[1]["wall_s"])
            print(f"goal F <= {GOAL_OBJECTIVE}: first reached by Laminar {n} at {row['steps']} steps, "
                  f"{row['wall_s']:.2f} s (goal {GOAL_SECONDS} s)")
        else:
            print(f"goal F <= {GOAL_OBJECTIVE}: not reached by any Laminar row"
                  + (f" (the optimum's lower bound is {lo:.4f})" if lo > GOAL_OBJECTIVE else ""))
        if results["admm"]:
            a200 = results["admm"][-1]
            reach = [(v["variant"], row) for v in results["laminar"] for row in v["rows"]
                     if row["wall_s"] is not None and row["objective"] <= a200["objective_zero_Y"]]
            if reach:
                n, row = min(reach, key=lambda t: t[1]["wall_s"])
                print(f"ADMM's {a200['iterations']}-iteration code (F zero {a200['objective_zero_Y']:.4f}, "
                      f"{a200['wall_s']:.1f} s): reached by Laminar {n} at {row['steps']} steps, {row['wall_s']:.2f} s")
    print(f"consistency checks: {'all passed' if ok else 'FAILED'} ({sum(c['passed'] for c in checks)}/{len(checks)})")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.plot:
        plot(results, args.plot, args.quick)
    return 0 if ok else 1


def plot(results, path, quick):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for v in results["laminar"]:
        c = v["curve"]
        ax.plot(c["wall_s"][2:], c["objective"][2:], label=f"Laminar {v['variant']} (zero boundary)")
    if results["admm"]:
        a = results["admm"]
        t = [r["wall_s"] for r in a]
        ax.plot(t, [r["objective_zero_Y"] for r in a], "ko-", label="ADMM ConvBPDN, Y, zero boundary")
        ax.plot(t, [r["objective_circular_X"] for r in a], "k^--", label="ADMM ConvBPDN, X, circular (SPORCO's)")
        ax.plot(t, [r["objective_circular_Y"] for r in a], "kv:", label="ADMM ConvBPDN, Y, circular")
    if not quick:
        ax.plot(SPORCO["seconds"], SPORCO["objective"], "rs", label="SPORCO quoted (circular)")
        ax.axhline(GOAL_OBJECTIVE, color="r", lw=0.8, ls=":", label=f"{GOAL_OBJECTIVE} (SPORCO, 200 it)")
        ax.axvline(GOAL_SECONDS, color="gray", lw=0.8, ls=":")
    lo, hi = results["optimum_bracket"]
    if math.isfinite(lo):
        ax.axhspan(lo, hi, color="g", alpha=0.2, label=f"optimum F* in [{lo:.2f}, {hi:.2f}]")
    allv = [r["objective"] for v in results["laminar"] for r in v["rows"]]
    if allv:
        ax.set_ylim(min(allv + [lo if math.isfinite(lo) else min(allv)]) - 2, max(allv[:1] + [max(allv)]) + 10)
    ax.set_xscale("log")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("objective")
    ax.set_title(f"CSC of camera {results['problem']['shape'][0]}^2, K={results['problem']['kernels']}, "
                 f"lambda {LAMBDA}, {results['threads']} threads")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
