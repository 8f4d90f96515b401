#!/usr/bin/python3
"""Tutorial 06: kernel heterogeneity in convolutional sparse coding of natural images.

Ladret, Casanova and Perrinet, "Kernel Heterogeneity Improves Sparseness of Natural Images
Representations" (2023), with Laminar's LCA in place of SPORCO's ADMM (both minimise
1/2 ||x - sum_k d_k * a_k||^2 + lambda ||a||_1, lambda = 0.05, K = 144 kernels of 12x12, stride 1):

  1. data: the photographs Debian ships (laminar.images "debian": scikit-image's and two wallpaper
     packages'), grey, each shorter side brought to 512 px, central 256x256 crop, [0, 1], mean removed
  2. the five dictionaries: log-Gabor banks built by Laminar (`init: log_gabor`, presets homogeneous:
     72 orientations x B_theta 12 deg x 2 phases, heterogeneous: 12 orientations x 6 B_theta 3..30 deg x
     2 phases), each before and after learning on the photographs, and one learned from random weights
  3. every photograph coded by each dictionary (LCA, a fixed number of steps; the convergence
     criterion is checked and reported), sparseness and PSNR per image (figure 2d) with Mann-Whitney
     U tests, per-kernel sparseness by B_theta (figure 3b), the fitted (theta0, B_theta) of every
     kernel before and after learning with their density (figure 3a), pruning (figure 6a, 6b)
  4. a small table 1: Fashion-MNIST coded by each dictionary, pruned at 0, 0.25, 0.5, classified by a
     small CNN (classify.py, PyTorch on the CPU), mean and standard deviation over seeds
  5. figures (PNG), results.json, the table printed

usage: tutorial.py [--output DIR] [--laminar EXE] [--quick | --tiny] [--threads N]
  --quick: minutes (the test suite's form): fewer and smaller images, fewer steps; --tiny: seconds.
"""
import argparse
import json
import os
import sys
import time

LAMINAR_THREADS = os.environ.get("OMP_NUM_THREADS")
os.environ["OMP_NUM_THREADS"] = "1"          # this process's numpy/scipy beside a busy laminar or torch
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gzip  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

from laminar import analysis as A  # noqa: E402
from laminar import images as I  # noqa: E402
from laminar.run import Run, run_laminar  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"
LAMBDA = 0.05
K, PATCH = 144, 12
# (key, label): the paper's five dictionaries, in its order
DICTS = (("hom_pre", "Homogeneous, pre-learning"), ("hom_post", "Homogeneous, post-learning"),
         ("het_pre", "Heterogeneous, pre-learning"), ("het_post", "Heterogeneous, post-learning"),
         ("rand_post", "Random init, learned"))
CUTOFFS = np.geomspace(0.001, 0.5, 6)   # the paper: "from 0.001 to 0.5 in 6 steps"
TABLE_CUTOFFS = (0.0, 0.25, 0.5)        # the paper's table 1


def settings(mode):
    """Sizes of each mode. `steps`: LCA steps per image; `step_factor`: dt/tau = step_factor / L with L the
    largest eigenvalue of Phi^T Phi; `momentum`: the LCA's heavy-ball momentum mu (the iteration is stable for
    dt/tau L < 2 (1 + mu); benchmarks/csc_solver.py found mu = 0.9 at 1.9 / L the fastest on this problem)."""
    base = dict(mode=mode, size=256, n_images=34, short_side=512, steps=200, code_batch=2, step_factor=1.9,
                momentum=0.9,
                crop=64, crops_per_image=12, learn_batch=16, learn_period=100, learn_epochs=4, learning_rate=0.02,
                fm_train=1000, fm_test=500, fm_steps=200, fm_batch=50, cnn_epochs=8, seeds=4, examples=3)
    if mode == "quick":
        base.update(size=96, n_images=8, steps=150, code_batch=4, crop=48, crops_per_image=4, learn_batch=8,
                    learn_period=60, learn_epochs=3, fm_train=300, fm_test=150, fm_steps=80, cnn_epochs=4, seeds=2,
                    examples=2)
    if mode == "tiny":
        base.update(size=48, n_images=4, steps=40, code_batch=4, crop=32, crops_per_image=2, learn_batch=4,
                    learn_period=20, learn_epochs=2, fm_train=60, fm_test=40, fm_steps=20, fm_batch=20, cnn_epochs=1,
                    seeds=2, examples=1)
    return base


# ---------------------------------------------------------------- helpers

def lipschitz(D, shape):
    """The largest eigenvalue of Phi^T Phi for the stride-1 convolution with kernels D (K, p, p[, 1]) on an
    image of `shape`: max over frequencies of sum_k |D_k(w)|^2, on the grid of the full convolution."""
    D = np.asarray(D, np.float64).reshape(len(D), D.shape[1], D.shape[2])
    F = np.fft.rfft2(D, s=(shape[0] + D.shape[1] - 1, shape[1] + D.shape[2] - 1))
    return float((np.abs(F) ** 2).sum(axis=0).max())


def tau_for(D, shape, factor):
    return float(np.ceil(lipschitz(D, shape) / factor))


def write_dictionary(path, W):
    with h5py.File(path, "w") as f:
        f["weights"] = np.asarray(W, np.float32).reshape(K, PATCH, PATCH, 1)


def network(cfg, data, n, size, tau, init, steps, period, batch, learning_rate=0.0, shuffle=False, seed=1):
    """The CSC network as a params dict: Input (HDF5 images, already zero-mean) -> Residual (Error) <- V1 (LCA)."""
    conv = dict(type="Convolution", pre="V1", post="Residual", channel="inhibitory", patch_size=PATCH,
                learning_rate=learning_rate, normalize="l2")
    conv.update(init)
    return dict(
        # nan_check once per display period: every step it copies every buffer (15% of a coding step)
        simulation=dict(steps=steps, display_period=period, batch_size=batch, dt=1, seed=seed, csv=False,
                        nan_check=period),
        layers=dict(Input=dict(type="ImageInput", path=data, format="hdf5", limit=n, shuffle=shuffle),
                    Residual=dict(type="Error"),
                    V1=dict(type="LCA", nx=size, ny=size, nf=K, tau=tau, **{"lambda": LAMBDA}, threshold="soft",
                            reset_on="Input", momentum=cfg["momentum"])),
        connections=dict(InputToResidual=dict(type="Identity", pre="Input", post="Residual", channel="excitatory"),
                         Dictionary=conv,
                         ResidualToV1=dict(type="Transpose", original="Dictionary", pre="Residual", post="V1",
                                           channel="excitatory")),
        probes=dict(Energy=dict(type="Energy")))


def laminar(exe, params, out, log, threads, progress=False):
    path = out + ".yaml"
    params["simulation"]["output"] = out
    with open(path, "w") as f:
        yaml.safe_dump(params, f, sort_keys=False)
    t0 = time.time()
    run = run_laminar(exe, path, out, [], log, threads=threads, progress=progress, overwrite=True)
    return run, time.time() - t0


# ---------------------------------------------------------------- 1. data

def natural_images(cfg, data, log):
    s = I.load_images("debian", crop=256, short_side=cfg["short_side"])
    imgs, names = s.images[:cfg["n_images"]], s.names[:cfg["n_images"]]
    if cfg["size"] < 256:  # --quick / --tiny: the central part of each crop
        o = (256 - cfg["size"]) // 2
        imgs = imgs[:, o:o + cfg["size"], o:o + cfg["size"]]
    x = imgs - imgs.mean(axis=(1, 2), keepdims=True)   # [0, 1], mean removed (what is coded)
    path = os.path.join(data, "natural.h5")
    I.write_hdf5(path, x.astype(np.float32), names)
    log(f"data: {len(x)} photographs from Debian packages, {cfg['size']}x{cfg['size']}, [0, 1] with the mean "
        f"removed -> {path}")
    rng = np.random.default_rng(0)
    c = cfg["crop"]
    crops = np.stack([img[y:y + c, xx:xx + c] for img in x for y, xx in
                      zip(rng.integers(0, cfg["size"] - c + 1, cfg["crops_per_image"]),
                          rng.integers(0, cfg["size"] - c + 1, cfg["crops_per_image"]))])
    crops -= crops.mean(axis=(1, 2), keepdims=True)
    cpath = os.path.join(data, "crops.h5")
    I.write_hdf5(cpath, crops.astype(np.float32))
    log(f"      {len(crops)} random {c}x{c} crops of them for dictionary learning -> {cpath}")
    return x, names, path, cpath, len(crops)


def read_idx(name, count):
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        raw = f.read()
    if "labels" in name:
        return np.frombuffer(raw, np.uint8, offset=8)[:count].astype(np.int64)
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count].astype(np.float64) / 255.0


# ---------------------------------------------------------------- 2. dictionaries

def log_gabor_bank(exe, cfg, preset, data, out, log, threads):
    """The preset bank as Laminar builds it (one step of a run: its final weights and kernel attributes)."""
    p = network(cfg, data, 1, cfg["size"], 100.0, dict(init="log_gabor", log_gabor_preset=preset), 1, 1, 1)
    p["probes"]["Weights"] = dict(type="WeightRecorder", connection="Dictionary")
    run, _ = laminar(exe, p, os.path.join(out, f"bank-{preset}"), log, threads)
    W = run.weights("Weights")
    attrs = run.kernel_attributes("Weights")
    return W, {k: np.asarray(v, np.float64) for k, v in attrs.items()}


def learn(exe, cfg, init, W0, crops, n_crops, out, name, log, threads):
    """Dictionary learning on the crops: LCA to the end of each display period, then the Hebbian step
    Phi += eta mean_b(e (x) a) and L2 renormalisation (Laminar's Convolution learning)."""
    c, B, P = cfg["crop"], cfg["learn_batch"], cfg["learn_period"]
    steps = cfg["learn_epochs"] * (n_crops // B) * P
    # tau from the initial dictionary, with a margin for the growth of L while learning
    tau = tau_for(W0, (c, c), cfg["step_factor"]) * 1.5 if W0 is not None else 300.0
    p = network(cfg, crops, n_crops, c, tau, init, steps, P, B, learning_rate=cfg["learning_rate"], shuffle=True)
    p["probes"]["Energy"]["period"] = P
    log(f"learning {name}: {cfg['learn_epochs']} epochs of {n_crops} crops, batch {B}, {P} LCA steps per "
        f"batch (tau {tau:.0f}), learning rate {cfg['learning_rate']} ({steps} steps)")
    run, secs = laminar(exe, p, os.path.join(out, f"learn-{name}"), log, threads, progress=cfg["mode"] == "default")
    e = run.energy_arrays()
    energy = e["energy"].mean(axis=1)
    if not np.all(np.isfinite(energy)):
        sys.exit(f"learning {name} diverged (energy {energy[-3:]}); lower learning_rate or raise tau")
    W = run.final_weights("Dictionary")
    log(f"  {secs:.0f} s; energy at the end of a batch {energy[0]:.2f} (first) -> {energy[-1]:.2f} (last)")
    return W, dict(seconds=secs, tau=tau, steps=steps, energy_first=float(energy[0]), energy_last=float(energy[-1]),
                   energy=energy.tolist())


# ---------------------------------------------------------------- 3. coding

def code(exe, cfg, W, data, n, size, steps, batch, out, name, log, threads, energy_every=1):
    """Codes of the n images of `data` by dictionary W (fixed): a laminar run, each image shown for `steps`
    LCA steps from a zero membrane. Returns the run (V1's code of every image in probe V1Code, sample
    p holding images p*batch .. p*batch+batch-1), tau and seconds."""
    wfile = os.path.join(out, f"dict-{name}.h5")
    write_dictionary(wfile, W)
    tau = tau_for(W, (size, size), cfg["step_factor"])
    p = network(cfg, data, n, size, tau, dict(init="file", init_file=wfile, normalize="none"), n // batch * steps,
                steps, batch)
    p["probes"]["Energy"]["period"] = energy_every
    p["probes"]["V1Code"] = dict(type="ActivityRecorder", layer="V1")
    run, secs = laminar(exe, p, os.path.join(out, f"code-{name}"), log, threads, progress=cfg["mode"] == "default")
    return run, tau, secs


def codes_of(run, sample):
    return run.activity("V1Code", samples=[sample])[0].astype(np.float64)   # (batch, H, W, K)


def convergence(run, steps):
    """Per image: the relative fall of the energy over the last 10% of its steps, (E(0.9 S) - E(S)) / E(S)."""
    e = run.energy_arrays()
    step, energy = e["step"], e["energy"]                       # (samples,), (samples, batch)
    last = energy[(step + 1) % steps == 0]                      # the end of each image
    at90 = energy[(step + 1) % steps == (int(0.9 * steps) % steps)]
    return ((at90 - last) / last).reshape(-1), last.reshape(-1)


def study_natural(exe, cfg, dicts, x, data, out, log, threads):
    """Every photograph coded by every dictionary: per-image sparseness and PSNR, per-kernel sparseness,
    pruning, convergence; example codes and reconstructions for the figures."""
    n, size, S, B = len(x), x.shape[1], cfg["steps"], cfg["code_batch"]
    res, arrays = {}, {}
    for key, label in DICTS:
        W = dicts[key]
        log(f"coding {n} photographs with {label} ({S} LCA steps each, batch {B})")
        run, tau, secs = code(exe, cfg, W, data, n, size, S, B, out, key, log, threads)
        rel, final_energy = convergence(run, S)
        sp, ps, kernel_zero = np.zeros(n), np.zeros(n), np.zeros(K)
        prune_sp, prune_ps = np.zeros((len(CUTOFFS), n)), np.zeros((len(CUTOFFS), n))
        examples = {}
        for s in range(n // B):
            a = codes_of(run, s)
            src = x[s * B:(s + 1) * B]
            rec = A.reconstruct(a, W)
            idx = slice(s * B, (s + 1) * B)
            sp[idx], ps[idx] = A.sparseness(a), A.psnr(src, rec)
            kernel_zero += A.kernel_sparseness(a) * B
            curve = A.pruning_curve(a, W, src, CUTOFFS)
            prune_sp[:, idx], prune_ps[:, idx] = curve["sparseness"], curve["psnr"]
            for b in range(B):
                i = s * B + b
                if i < cfg["examples"]:
                    examples[i] = dict(code=a[b].astype(np.float32), recon=rec[b].astype(np.float32),
                                       pruned=np.stack([A.reconstruct(A.prune(a[b], c), W) for c in CUTOFFS])
                                       .astype(np.float32))
        res[key] = dict(label=label, tau=tau, seconds=secs, seconds_per_image=secs / n,
                        sparseness=sp.tolist(), psnr=ps.tolist(), objective=final_energy.tolist(),
                        median_sparseness=float(np.median(sp)), median_psnr=float(np.median(ps)),
                        convergence_max=float(rel.max()), convergence_median=float(np.median(rel)),
                        kernel_sparseness=(kernel_zero / n).tolist(),
                        pruning=dict(cutoffs=CUTOFFS.tolist(), sparseness=prune_sp.tolist(), psnr=prune_ps.tolist()))
        arrays[key] = examples
        log(f"  {secs:.0f} s ({secs / n:.1f} s per image, tau {tau:.0f}): median sparseness {np.median(sp):.4f}, "
            f"median PSNR {np.median(ps):.2f} dB; energy fall over the last 10% of steps: median "
            f"{np.median(rel):.2e}, max {rel.max():.2e}")
        os.remove(run.file)  # the codes (every coefficient of every image) are large; what is kept is above
    return res, arrays


def statistics(res, attrs):
    """The paper's comparisons: Mann-Whitney U tests (two-sided) on the per-image distributions."""
    def u(a, b, what):
        r = A.mann_whitney(res[a][what], res[b][what])
        return dict(a=a, b=b, what=what, **r)
    tests = [u("het_pre", "hom_pre", "sparseness"), u("het_pre", "hom_pre", "psnr"),
             u("hom_post", "rand_post", "sparseness"), u("het_post", "rand_post", "sparseness"),
             u("hom_post", "rand_post", "psnr"), u("het_post", "rand_post", "psnr"),
             u("hom_post", "hom_pre", "psnr"), u("het_post", "het_pre", "psnr"),
             u("hom_post", "hom_pre", "sparseness"), u("het_post", "het_pre", "sparseness")]
    pruning = []
    for j, c in enumerate(CUTOFFS):   # resilience: PSNR of pruned codes, heterogeneous vs homogeneous
        for pre in (("het_pre", "hom_pre"), ("het_post", "hom_post")):
            r = A.mann_whitney(res[pre[0]]["pruning"]["psnr"][j], res[pre[1]]["pruning"]["psnr"][j])
            pruning.append(dict(cutoff=float(c), a=pre[0], b=pre[1], what="psnr", **r))
    return tests, pruning


def kernel_fits(dicts, attrs):
    """(theta0, B_theta) of every kernel (laminar.analysis.orientation_bandwidth), their density, and the
    cardinal bias: the fraction of kernels whose theta0 lies within 11.25 deg of 0 or 90 deg (a quarter of
    the orientations; 0.25 for a uniform bank)."""
    out = {}
    for key, _ in DICTS:
        fit = A.orientation_bandwidth(dicts[key])
        th, bt = np.asarray(fit["theta0"]), np.asarray(fit["b_theta"])
        d = np.minimum(np.abs((th + 45) % 90 - 45), 90)          # distance to the nearest cardinal
        out[key] = dict(theta0=th.tolist(), b_theta=bt.tolist(), cardinal_fraction=float(np.mean(d <= 11.25)),
                        median_b_theta=float(np.median(bt)))
    for key in ("hom_pre", "het_pre"):   # the fit against the bank's own grid (a check of the fit)
        true_th, true_b = attrs[key]["theta0_deg"], attrs[key]["b_theta_deg"]
        fit = out[key]
        dth = np.abs((np.asarray(fit["theta0"]) - true_th + 90) % 180 - 90)
        fit["grid_theta0_error_median_deg"] = float(np.median(dth))
        fit["grid_b_theta_ratio_median"] = float(np.median(np.asarray(fit["b_theta"]) / true_b))
    return out


# ---------------------------------------------------------------- 4. classification

def table1(exe, cfg, dicts, out, log, threads):
    """Fashion-MNIST codes by each dictionary, pruned at 0, 0.25, 0.5, classified by the CNN (classify.py)."""
    import classify
    ntr, nte = cfg["fm_train"], cfg["fm_test"]
    xtr, ytr = read_idx("train-images-idx3-ubyte.gz", ntr), read_idx("train-labels-idx1-ubyte.gz", ntr)
    xte, yte = read_idx("t10k-images-idx3-ubyte.gz", nte), read_idx("t10k-labels-idx1-ubyte.gz", nte)
    xall = np.concatenate([xtr, xte])
    xall = xall - xall.mean(axis=(1, 2), keepdims=True)
    data = os.path.join(out, "data", "fashion.h5")
    I.write_hdf5(data, xall.astype(np.float32))
    n, B, S = len(xall), cfg["fm_batch"], cfg["fm_steps"]
    log(f"table 1: {ntr} training and {nte} test Fashion-MNIST images (28x28, mean removed), coded by each "
        f"dictionary ({S} LCA steps), classified by a small CNN over {cfg['seeds']} seeds, {cfg['cnn_epochs']} epochs")
    rows = {}
    torch_threads = int(threads)

    def fit(codes_train, codes_test):
        accs = [classify.train_and_test(codes_train, ytr, codes_test, yte, seed, cfg["cnn_epochs"], torch_threads)
                for seed in range(cfg["seeds"])]
        a = np.array([r["accuracy"] for r in accs]) * 100
        return dict(mean=float(a.mean()), std=float(a.std()), accuracies=a.tolist(),
                    seconds=float(sum(r["seconds"] for r in accs)))

    rows["pixels"] = dict(label="Pixels (no coding)", **{"0.0": fit(xall[:ntr, ..., None], xall[ntr:, ..., None])})
    log(f"  pixels: {rows['pixels']['0.0']['mean']:.2f} +- {rows['pixels']['0.0']['std']:.2f} %")
    for key, label in DICTS:
        run, tau, secs = code(exe, cfg, dicts[key], data, n, 28, S, B, out, f"fashion-{key}", log, threads,
                              energy_every=S)
        codes = np.concatenate([codes_of(run, s).astype(np.float32) for s in range(n // B)])
        os.remove(run.file)
        row = dict(label=label, seconds_coding=secs, tau=tau, sparseness=float(np.mean(codes == 0)))
        for c in TABLE_CUTOFFS:
            pc = A.prune(codes, c).astype(np.float32) if c > 0 else codes
            row[str(c)] = fit(pc[:ntr], pc[ntr:])
            row[str(c)]["sparseness"] = float(np.mean(pc == 0))
        rows[key] = row
        log(f"  {label}: " + ", ".join(f"c={c}: {row[str(c)]['mean']:.2f} +- {row[str(c)]['std']:.2f} %"
                                        for c in TABLE_CUTOFFS) + f" (codes {row['sparseness']:.3f} zero)")
        del codes
    return rows


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default=os.path.join(HERE, "output"))
    ap.add_argument("--laminar", default=os.environ.get("LAMINAR", os.path.join(ROOT, "build", "laminar")))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--tiny", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="threads for laminar (OMP_NUM_THREADS wins) and torch")
    a = ap.parse_args()
    out, exe = os.path.abspath(a.output), os.path.abspath(a.laminar)
    if not os.path.exists(exe):
        sys.exit(f"{exe}: laminar not found; build it (cmake --build build) or pass --laminar")
    if os.path.isdir(out) and os.listdir(out):
        sys.exit(f"{out}: not empty (an earlier run?); give another --output or remove it")
    cfg = settings("quick" if a.quick else "tiny" if a.tiny else "default")
    threads = LAMINAR_THREADS or str(a.threads)
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:6.0f} s] {msg}", flush=True)

    log(f"tutorial 06 ({cfg['mode']}): output in {out}")
    x, names, nat, crops, n_crops = natural_images(cfg, data, log)

    dicts, attrs, learning = {}, {}, {}
    for preset, key in (("homogeneous", "hom"), ("heterogeneous", "het")):
        dicts[f"{key}_pre"], attrs[f"{key}_pre"] = log_gabor_bank(exe, cfg, preset, nat, out, log, threads)
        log(f"{preset} log-Gabor bank: {len(dicts[key + '_pre'])} kernels, B_theta "
            f"{sorted(set(np.round(attrs[key + '_pre']['b_theta_deg'], 2)))} deg")
    for key, init, W0 in (("hom_post", "hom_pre", dicts["hom_pre"]), ("het_post", "het_pre", dicts["het_pre"]),
                          ("rand_post", None, None)):
        if init:
            wfile = os.path.join(out, f"dict-{init}.h5")
            write_dictionary(wfile, W0)
            spec = dict(init="file", init_file=wfile)
        else:
            spec = dict(init="random", init_min=-1.0, init_max=1.0)
        dicts[key], learning[key] = learn(exe, cfg, spec, W0, crops, n_crops, out, key, log, threads)
    with h5py.File(os.path.join(out, "dictionaries.h5"), "w") as f:
        for key, label in DICTS:
            d = f.create_dataset(key, data=np.asarray(dicts[key], np.float32))
            d.attrs["label"] = label
        for key in ("hom_pre", "het_pre"):
            for k, v in attrs[key].items():
                f[key].attrs[k] = v

    natural, examples = study_natural(exe, cfg, dicts, x, nat, out, log, threads)
    np.savez_compressed(os.path.join(out, "examples.npz"), **{
        f"{key}_{what}_{i}": v for key, ex in examples.items() for i, e in ex.items() for what, v in e.items()})
    tests, pruning_tests = statistics(natural, attrs)
    fits = kernel_fits(dicts, attrs)
    kde = {key: A.kde_2d(fits[key]["theta0"], fits[key]["b_theta"]) for key, _ in DICTS}
    # figure 3b: per-kernel sparseness grouped by B_theta (the bank's own B_theta for the pre-learning
    # dictionaries; the learned kernels keep their index, so their group is the B_theta they started from)
    groups = {}
    for key in ("hom_pre", "hom_post", "het_pre", "het_post"):
        src = "het_pre" if key.startswith("het") else "hom_pre"
        b = np.round(attrs[src]["b_theta_deg"], 2)
        per = np.asarray(natural[key]["kernel_sparseness"])
        groups[key] = dict(b_theta=sorted(set(b.tolist())),
                           mean=[float(per[b == v].mean()) for v in sorted(set(b.tolist()))],
                           std=[float(per[b == v].std()) for v in sorted(set(b.tolist()))],
                           fraction_silent=[float(np.mean(per[b == v] == 1.0)) for v in sorted(set(b.tolist()))])
    classification = table1(exe, cfg, dicts, out, log, threads)

    results = dict(settings=cfg, images=names, lambda_=LAMBDA, kernels=K, patch=PATCH,
                   learning=learning, natural={k: {kk: vv for kk, vv in v.items()} for k, v in natural.items()},
                   u_tests=tests, pruning_u_tests=pruning_tests, kernel_fits=fits, sparseness_by_b_theta=groups,
                   table1=classification, seconds=time.time() - t_start)
    import plots
    figs = plots.all_figures(out, results, dicts, attrs, examples, kde, x)
    results["figures"] = figs
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(report(results))
    log(f"done: results.json and {len(figs)} figures in {out}")


def report(r):
    """The README's tables, from results.json's numbers."""
    n = r["natural"]
    lines = ["| dictionary | median sparseness | median PSNR (dB) | s per image | energy fall, last 10% (max) |",
             "|---|---|---|---|---|"]
    for key, label in DICTS:
        v = n[key]
        lines.append(f"| {label} | {v['median_sparseness']:.4f} | {v['median_psnr']:.2f} | "
                     f"{v['seconds_per_image']:.1f} | {v['convergence_max']:.1e} |")
    lines += ["", "| test | U | p |", "|---|---|---|"]
    for t in r["u_tests"]:
        lines.append(f"| {t['what']}: {t['a']} vs {t['b']} | {t['U']:.1f} | {t['p']:.3g} |")
    lines += ["", "| encoding | " + " | ".join(f"c = {c}" for c in TABLE_CUTOFFS) + " |",
              "|---|" + "---|" * len(TABLE_CUTOFFS)]
    for key, row in r["table1"].items():
        cells = [f"{row[str(c)]['mean']:.2f} +- {row[str(c)]['std']:.2f}" if str(c) in row else "" for c in
                 TABLE_CUTOFFS]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
