#!/usr/bin/env python3
"""Time to reach the energy of N fixed LCA steps, with and without the adaptive timestep.

Runs `laminar run` twice on one params file, both times with only an Energy probe (sampled every step):

  fixed     the network as written (every LCA layer at its constant dt);
  adaptive  the same with an AdaptiveTimestep probe driving every LCA layer (docs/reference/kinds.md,
            "AdaptiveTimestep"; its keys from `adaptive`, default the kind's defaults).

Within every display period, the target of batch element b is the energy the fixed run shows at the
period's last step (with steps = display_period = 400 on the paper network: the energy 400 fixed steps
reach, the settled energy of the progress line). Each run's "steps to target" for (period, b) is the
number of steps from the period's start until its energy has reached that target and stays there to the
period's end: at most target (1 + rtol) where the fixed run comes down to it, at least target (1 - rtol)
where it rises to it (the energy of a hierarchy whose errors reconstruct membranes grows while they
charge; the side is where the fixed run last was outside target (1 +- rtol)); rtol defaults to 1e-6 (two
runs settled at the same minimum differ by float32 rounding). An adaptive run that overshoots is counted
from its last crossing. Reported per run:

  steps          per period, the step at which every batch element has reached its target (the batch is
                 done), averaged over periods; None if some element never reached it;
  steps_mean     per period, the first step where the batch-mean energy is at or below the mean target;
  seconds        steps x the run's seconds per step (its loop time, laminar.h5 `run_seconds`, / steps);

and the ratios fixed / adaptive (fewer steps per input is the largest lever on the time per pair). The
Energy sample at step n is the energy of the code after n updates (F(a(n-1)), see the Energy kind).

usage:
  /usr/bin/python3 benchmarks/time_to_energy.py PARAMS [--laminar build/laminar] [--steps 400]
        [--set KEY=VALUE ...] [--adaptive KEY=VALUE ...] [--controller-layers L ...] [--faces N]
        [--threads T] [--workdir DIR] [--json FILE]
  --controller-layers  drive the AdaptiveTimestep probe from an Energy probe over these layers only (the
              target stays the total energy)
  --faces N   generate N 64x64 faces with names (gpu_paper_network.make_faces) and point layers.Image at
              them: the paper network, params/paper/deep-sparse-coding.yaml, runs without its data.
e.g.
  /usr/bin/python3 benchmarks/time_to_energy.py params/paper/deep-sparse-coding.yaml --faces 16 \\
        --set simulation.batch_size=1 --set simulation.steps=400

As a function (benchmarks/gpu_paper_network.py):
  from time_to_energy import time_to_energy
  r = time_to_energy("build/laminar", "paper.yaml", ["layers.Image.path=...", "simulation.batch_size=8"])
  r["fixed"]["steps"], r["adaptive"]["steps"], r["adaptive"]["seconds"], r["step_ratio"]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROBE = "AdaptiveTimestep_"  # the name of the probe added to the adaptive run


def _assignments(sets) -> list[str]:
    """KEY=VALUE strings; a "--set" item is skipped, so `["--set", "a=1", ...]` lists pass as they are."""
    return [s for s in sets if s != "--set"]


def _energies(run_dir: str, probe: str):
    with h5py.File(os.path.join(run_dir, "laminar.h5"), "r") as f:
        energy = f[f"probes/{probe}/energy"][()].astype(np.float64)  # [samples, batch]
        step = f[f"probes/{probe}/step"][()]
        seconds = float(f.attrs["run_seconds"])
        params = yaml.safe_load(f.attrs["params"])
        scale = f[f"probes/{PROBE}/timescale"][()] if PROBE in f.get("probes", {}) else None
    if not np.array_equal(step, np.arange(len(step))):
        raise RuntimeError(f"{run_dir}: probe {probe} did not sample every step")
    return energy, seconds, params, scale


def _first_staying(ok: np.ndarray):
    """1 + the first index from which `ok` holds to the end (None if it does not hold at the end)."""
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1]) + 2 if bad.size else 1


def _approach(fixed: np.ndarray, target: float, rtol: float) -> int:
    """+1 where the fixed run comes down to its final energy `target` (its last sample outside the band
    target (1 +- rtol) lies above it), -1 where it rises to it (a hierarchy whose reconstruction terms grow as
    its membranes charge), 0 where it never leaves the band."""
    outside = np.flatnonzero(np.abs(fixed - target) > rtol * abs(target))
    return 0 if outside.size == 0 else (1 if fixed[outside[-1]] > target else -1)


def _steps_to(energy: np.ndarray, fixed: np.ndarray, target: np.ndarray, period: int, periods: int, rtol: float):
    """Per period and batch element, the steps from the period's start until the energy has reached the target
    from the side the fixed run approaches it (at most target (1 + rtol) coming down, at least target (1 - rtol)
    rising) and stays there to the period's end (None: not at the end); per period the same for the batch mean."""
    def steps(e, f, t):
        side = _approach(f, t, rtol)
        if side == 0:
            return 1
        return _first_staying(e <= t + rtol * abs(t) if side > 0 else e >= t - rtol * abs(t))
    per, mean = [], []
    for k in range(periods):
        rows, frows = energy[k * period:(k + 1) * period], fixed[k * period:(k + 1) * period]
        per.append([steps(rows[:, b], frows[:, b], target[k][b]) for b in range(rows.shape[1])])
        mean.append(steps(rows.mean(axis=1), frows.mean(axis=1), target[k].mean()))
    return per, mean


def _summary(per, mean, seconds_per_step: float, energy: np.ndarray, period: int, periods: int) -> dict:
    done = [None if any(s is None for s in p) else max(p) for p in per]
    steps = None if any(d is None for d in done) else float(np.mean(done))
    steps_mean = None if any(m is None for m in mean) else float(np.mean(mean))
    last = np.stack([energy[(k + 1) * period - 1] for k in range(periods)])
    return {"steps": steps, "steps_mean": steps_mean,
            "seconds": None if steps is None else steps * seconds_per_step,
            "seconds_mean": None if steps_mean is None else steps_mean * seconds_per_step,
            "seconds_per_step": seconds_per_step, "steps_per_element": per,
            "final_energy": float(last.mean()),
            "reached": float(np.mean([s is not None for p in per for s in p]))}


def time_to_energy(laminar: str, params_path: str, sets=(), steps: int = 400, adaptive: dict | None = None,
                   energy_probe: str = "Energy", workdir: str | None = None, threads: int | None = None,
                   quiet: bool = True, rtol: float = 1e-6, controller_layers=None) -> dict:
    """Run `params_path` fixed and adaptive (only `energy_probe` besides the AdaptiveTimestep probe; `sets`:
    KEY=VALUE overrides, as `laminar run --set`) for `steps` steps (a `simulation.steps=` in `sets` wins) and
    return the steps and seconds each needs to reach the fixed run's energy at the end of every display period,
    within `rtol` of it (see the module's docstring for the keys). `adaptive`: the AdaptiveTimestep probe's
    keys; `controller_layers`: drive it from an Energy probe over these layers only (default: the total energy
    `energy_probe` measures, which is also what the target is taken from)."""
    sets = _assignments(sets)
    for s in sets:
        if s.startswith("simulation.steps="):
            steps = int(yaml.safe_load(s.split("=", 1)[1]))
    p = yaml.safe_load(open(params_path))
    p.setdefault("simulation", {}).pop("epochs", None)
    p["simulation"]["steps"] = int(steps)
    old = (p.get("probes") or {}).get(energy_probe, {})
    p["probes"] = {energy_probe: {k: v for k, v in old.items() if k != "period"} if old else {"type": "Energy"}}
    p["probes"][energy_probe]["type"] = "Energy"
    base = os.path.dirname(os.path.abspath(params_path))
    for layer in (p.get("layers") or {}).values():  # relative data paths stay relative to the params file
        for key in ("path", "labels"):
            v = layer.get(key)
            if isinstance(v, str) and v and not os.path.isabs(v) and not os.path.exists(v):
                cand = os.path.join(base, v)
                if os.path.exists(cand):
                    layer[key] = cand
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    own = workdir is None
    tmp = tempfile.TemporaryDirectory(prefix="laminar-tte-") if own else None
    work = tmp.name if own else workdir
    os.makedirs(work, exist_ok=True)
    try:
        out = {}
        for tag in ("fixed", "adaptive"):
            q = yaml.safe_load(yaml.safe_dump(p))
            if tag == "adaptive":
                driver = energy_probe
                if controller_layers:
                    driver = PROBE + "Energy"
                    q["probes"][driver] = {"type": "Energy", "layers": list(controller_layers)}
                q["probes"][PROBE] = {"type": "AdaptiveTimestep", "energy": driver, **(adaptive or {})}
            path = os.path.join(work, f"{tag}.yaml")
            run_dir = os.path.join(work, f"out-{tag}")
            # In a folder of the caller's, nothing already there is replaced: an earlier params file or run
            # of the same name is an error (laminar itself refuses a folder holding another run).
            if not own and os.path.exists(path):
                raise RuntimeError(f"{path} exists: choose an empty --workdir (nothing there is replaced)")
            with open(path, "w") as f:
                yaml.safe_dump(q, f, sort_keys=False)
            cmd = [laminar, "run", path, "--output", run_dir, *(["--overwrite"] if own else []),
                   *sum((["--set", s] for s in sets), [])]
            cmd += ["-q"] if quiet else []
            proc = subprocess.run(cmd, capture_output=quiet, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr if quiet else ''}")
            out[tag] = _energies(run_dir, energy_probe)
        e_fixed, s_fixed, params, _ = out["fixed"]
        e_adapt, s_adapt, _, scale = out["adaptive"]
        period = min(int(params["simulation"].get("display_period", 200)), e_fixed.shape[0])
        periods = e_fixed.shape[0] // period
        if periods == 0:
            raise RuntimeError("no complete display period was run")
        target = np.stack([e_fixed[(k + 1) * period - 1] for k in range(periods)])  # [period, batch]
        n = e_fixed.shape[0]
        fixed = _summary(*_steps_to(e_fixed, e_fixed, target, period, periods, rtol), s_fixed / n, e_fixed, period,
                         periods)
        adapt = _summary(*_steps_to(e_adapt, e_fixed, target, period, periods, rtol), s_adapt / n, e_adapt, period,
                         periods)
        if scale is not None:
            adapt["timescale_max"] = float(np.max(scale))
            adapt["timescale_mean"] = float(np.mean(scale))
        result = {"params": params_path, "sets": sets, "steps": n, "display_period": period, "periods": periods,
                  "rtol": rtol, "controller_layers": list(controller_layers or []),
                  "batch": int(e_fixed.shape[1]), "adaptive_settings": adaptive or {},
                  "target_energy": float(target.mean()), "fixed": fixed, "adaptive": adapt,
                  "step_ratio": None if not adapt["steps"] else fixed["steps"] / adapt["steps"],
                  "time_ratio": None if not adapt["seconds"] else fixed["seconds"] / adapt["seconds"]}
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


def _value(text: str):
    return yaml.safe_load(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("params")
    ap.add_argument("--laminar", default=os.path.join(ROOT, "build", "laminar"))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as laminar run --set")
    ap.add_argument("--adaptive", action="append", default=[], metavar="KEY=VALUE",
                    help="a key of the AdaptiveTimestep probe (base_min, base_max, tau_factor, growth_factor)")
    ap.add_argument("--energy-probe", default="Energy")
    ap.add_argument("--controller-layers", nargs="+", default=None, metavar="LAYER",
                    help="drive the timestep from the energy of these layers only (default: the total energy)")
    ap.add_argument("--faces", type=int, default=0, help="generate N faces for layers.Image (the paper network)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workdir", default=None, help="keep the runs here, in a folder without earlier ones (default: a temporary folder)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    adaptive = {}
    for a in args.adaptive:
        k, _, v = a.partition("=")
        adaptive[k] = _value(v)
    with tempfile.TemporaryDirectory(prefix="laminar-tte-faces-") as tmp:
        sets = list(args.set)
        if args.faces:
            sys.path.insert(0, HERE)
            from gpu_paper_network import make_faces
            faces = os.path.join(tmp, "faces")
            make_faces(faces, args.faces)
            sets = [f"layers.Image.path={faces}", f"layers.Image.labels={faces}/names.csv"] + sets
        r = time_to_energy(args.laminar, args.params, sets, steps=args.steps, adaptive=adaptive,
                           energy_probe=args.energy_probe, workdir=args.workdir, threads=args.threads,
                           controller_layers=args.controller_layers)
    f, a = r["fixed"], r["adaptive"]

    def fmt(x, unit=""):
        return "never" if x is None else f"{x:.4g}{unit}"
    print(f"{r['params']}: {r['steps']} steps, display period {r['display_period']}, batch {r['batch']}; target: the "
          f"fixed run's energy at the end of each period (mean {r['target_energy']:.6g})")
    for name, s in (("fixed", f), ("adaptive", a)):
        print(f"  {name:8s}  steps to target {fmt(s['steps'])} (batch mean: {fmt(s['steps_mean'])}), "
              f"{fmt(s['seconds'], ' s')} at {1e3 * s['seconds_per_step']:.3f} ms/step; energy at the period's "
              f"end {s['final_energy']:.6g}")
    if "timescale_max" in a:
        print(f"  adaptive timescale: mean {a['timescale_mean']:.3g}, max {a['timescale_max']:.3g}")
    print(f"  fewer steps: x{fmt(r['step_ratio'])}; less time: x{fmt(r['time_ratio'])}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(r, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
