#!/usr/bin/python3
"""Tutorial 03: does top-down feedback lower the prediction error and speed up inference?

The 2L-SPC versus Hi-La comparison of Boutin et al. ("Effect of top-down connections in
Hierarchical Sparse Coding", 2020) with Laminar's two-layer hierarchy (hierarchy.yaml) on
whitened natural-image patches from scikit-image's bundled photographs.

  1. make_patches.py: 16x16 whitened, standardized patches -> OUTPUT/data/{train,test}.h5
  2. train the network twice on the training patches: with feedback (E2ToV1 strength 1, "2L-SPC")
     and without (strength 0, "Hi-La": independent layers); each learns its own two dictionaries
  3. inference on the held-out test patches (one batch) with each model's fixed dictionaries,
     Energy probe every step; also each model's dictionaries with feedback toggled (ablation)
  4. total prediction error 0.5||e1||^2 + 0.5||e2||^2 against step, and the number of LCA steps
     to converge: the first step after which the relative change of the total energy
     |E(n) - E(n-1)| / E(n) stays below 1e-4 (per test patch; E is the Energy probe's total)
  5. figures (prediction-error.png, convergence.png), results.json, and a summary printed

usage: tutorial.py [--output DIR] [--laminar EXE] [--tiny]
  --tiny: a seconds-long version (few patches and steps) for the test suite.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

from laminar.run import run_laminar  # noqa: E402

PARAMS = os.path.join(HERE, "hierarchy.yaml")
CONVERGED = 1e-4  # relative energy change per step
MODELS = {"2L-SPC": 1.0, "Hi-La": 0.0}  # feedback strength while training and in the main comparison


def settings(tiny):
    if tiny:
        return dict(train=256, test=16, batch=32, train_period=50, eval_steps=150)
    return dict(train=4096, test=128, batch=32, train_period=200, eval_steps=1500)


def laminar(exe, out, sets, log, threads):
    return run_laminar(exe, PARAMS, out, sets, log, threads, overwrite=True)


def convergence_steps(E):
    """E: [steps, batch]. Per element: the first n such that |E(m) - E(m-1)| / E(m) < CONVERGED for every
    m >= n (len(E) if the last step is still above)."""
    rel = np.abs(np.diff(E, axis=0)) / np.abs(E[1:])  # rel[m-1] is the change into step m
    above = rel >= CONVERGED
    out = np.full(E.shape[1], 1, dtype=np.int64)
    for b in range(E.shape[1]):
        idx = np.nonzero(above[:, b])[0]
        out[b] = idx[-1] + 2 if len(idx) else 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default=os.path.join(HERE, "output"))
    ap.add_argument("--laminar", default=os.environ.get("LAMINAR", os.path.join(ROOT, "build", "laminar")))
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args()
    out = os.path.abspath(a.output)
    exe = os.path.abspath(a.laminar)
    if not os.path.exists(exe):
        sys.exit(f"{exe}: laminar not found; build it (cmake --build build) or pass --laminar")
    os.makedirs(out, exist_ok=True)
    cfg = settings(a.tiny)
    log = print
    threads = "1" if a.tiny else "2"  # OpenMP threads for laminar unless OMP_NUM_THREADS is set
    t_start = time.time()

    # 1. data
    data = os.path.join(out, "data")
    subprocess.run([sys.executable, os.path.join(HERE, "make_patches.py"), data, "--train", str(cfg["train"]),
                    "--test", str(cfg["test"])], check=True)

    # 2. training, one network per model
    dp = cfg["train_period"]
    steps = cfg["train"] // cfg["batch"] * dp
    dictionaries = {}
    for model, strength in MODELS.items():
        log(f"training {model} (feedback strength {strength:g}): {steps} steps, {cfg['train']} patches")
        tag = model.lower().replace("-", "")
        run = laminar(exe, os.path.join(out, f"train-{tag}"), [
            f"layers.Input.path={data}/train.h5", f"simulation.steps={steps}", f"simulation.display_period={dp}",
            f"simulation.batch_size={cfg['batch']}", f"connections.E2ToV1.strength={strength}",
            f"probes.Energy.period={dp}"], log, threads)
        wfile = os.path.join(out, f"dictionaries-{tag}.h5")
        with h5py.File(wfile, "w") as f:
            for conn in ("Phi1", "Phi2"):
                f[conn] = run.final_weights(conn)
        dictionaries[model] = wfile
        e = run.energy_arrays()
        log(f"  energy at the end of the first/last presentation: {e['energy'][0].mean():.2f} / "
            f"{e['energy'][-1].mean():.2f}")

    # 3. inference on the test patches with fixed dictionaries
    T = cfg["eval_steps"]
    evals = {}
    for dict_model, wfile in dictionaries.items():
        for strength in (1.0, 0.0):
            name = f"{dict_model} dictionaries, feedback {'on' if strength else 'off'}"
            tag = f"eval-{dict_model.lower().replace('-', '')}-fb{int(strength)}"
            sets = [f"layers.Input.path={data}/test.h5", f"simulation.steps={T}", f"simulation.display_period={T}",
                    f"simulation.batch_size={cfg['test']}", f"connections.E2ToV1.strength={strength}",
                    "probes.Energy.period=1"]
            for conn in ("Phi1", "Phi2"):
                sets += [f"connections.{conn}.learning_rate=0", f"connections.{conn}.init=file",
                         f"connections.{conn}.init_file={wfile}", f"connections.{conn}.init_dataset={conn}",
                         f"connections.{conn}.normalize=none"]
            log(f"inference: {name}")
            e = laminar(exe, os.path.join(out, tag), sets, log, threads).energy_arrays()
            pe = e["E1"] + e["E2"]  # [steps, batch]
            conv = convergence_steps(e["energy"].astype(np.float64))
            evals[name] = dict(model=dict_model, feedback=strength, steps=e["step"].tolist(),
                               pe_mean=pe.mean(axis=1).tolist(), e1_mean=e["E1"].mean(axis=1).tolist(),
                               e2_mean=e["E2"].mean(axis=1).tolist(), energy_mean=e["energy"].mean(axis=1).tolist(),
                               final_pe=float(pe[-1].mean()), final_e1=float(e["E1"][-1].mean()),
                               final_e2=float(e["E2"][-1].mean()), final_energy=float(e["energy"][-1].mean()),
                               conv_steps=conv.tolist(), conv_median=float(np.median(conv)),
                               conv_mean=float(np.mean(conv)), not_converged=int(np.sum(conv >= T)))

    main_pair = ("2L-SPC dictionaries, feedback on", "Hi-La dictionaries, feedback off")
    spc, hila = evals[main_pair[0]], evals[main_pair[1]]
    results = dict(settings=cfg, convergence_threshold=CONVERGED, evals=evals,
                   summary=dict(pe_2lspc=spc["final_pe"], pe_hila=hila["final_pe"],
                                conv_median_2lspc=spc["conv_median"], conv_median_hila=hila["conv_median"],
                                feedback_lowers_pe=spc["final_pe"] < hila["final_pe"],
                                feedback_speeds_inference=spc["conv_median"] < hila["conv_median"]))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    # 4. figures
    from plots import plot_results  # noqa: E402

    pngs = plot_results(evals, main_pair, os.path.join(out, "prediction-error.png"),
                        os.path.join(out, "convergence.png"), T)

    # 5. summary
    print()
    print(f"Test patches: {cfg['test']}, {T} LCA steps each; convergence: relative energy change < {CONVERGED:g}")
    print(f"{'':42s} {'0.5|e1|^2':>10s} {'0.5|e2|^2':>10s} {'total PE':>10s} {'energy':>10s} "
          f"{'steps to converge (median / mean)':>34s}")
    for name, r in evals.items():
        nc = f" ({r['not_converged']} not converged)" if r["not_converged"] else ""
        print(f"{name:42s} {r['final_e1']:10.3f} {r['final_e2']:10.3f} {r['final_pe']:10.3f} "
              f"{r['final_energy']:10.3f} {r['conv_median']:16.0f} / {r['conv_mean']:.1f}{nc}")
    s = results["summary"]
    print()
    print(f"2L-SPC vs Hi-La: total prediction error {s['pe_2lspc']:.3f} vs {s['pe_hila']:.3f} "
          f"({'lower' if s['feedback_lowers_pe'] else 'NOT lower'} with feedback); median steps to converge "
          f"{s['conv_median_2lspc']:.0f} vs {s['conv_median_hila']:.0f} "
          f"({'faster' if s['feedback_speeds_inference'] else 'NOT faster'} with feedback)")
    print("wrote " + ", ".join(os.path.relpath(p) for p in pngs) + f", {os.path.relpath(os.path.join(out, 'results.json'))}"
          f" ({time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
