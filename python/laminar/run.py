"""Reading a Laminar run: `<output>/laminar.h5` (see the Output section of the architecture notes).

Layout written by `laminar run`:
    /                               attributes params (resolved YAML), params_file, laminar_version, schedule
    probes/<name>/step              [samples] step numbers
    probes/<Energy>/energy, <layer> [samples, batch]
    probes/<Stats>/{fraction_nonzero, mean, min, max}
    probes/<ActivityRecorder>/data  [samples, batch, ny, nx, nf] (+ item for input layers)
    probes/<WeightRecorder>/weights [samples, kernels, patch, patch, features]
    connections/<conn>/final_weights [kernels, patch, patch, features] (plastic connections)
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

import h5py
import numpy as np
import yaml

H5_NAME = "laminar.h5"


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray):  # variable-length strings may come back as 0-d arrays
        return _text(v.item())
    return str(v)


class Probe:
    """One probe's group: `step`, every other dataset as a numpy array, and its attributes."""

    def __init__(self, name: str, group: h5py.Group):
        self.name = name
        self.attrs = {k: _text(v) for k, v in group.attrs.items()}
        self.type = self.attrs.get("type")
        self.data = {k: np.asarray(group[k]) for k in group.keys() if isinstance(group[k], h5py.Dataset)}
        self.step = self.data.pop("step", np.zeros(0, dtype=np.int64))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self):
        return self.data.keys()

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.data.items())
        return f"Probe({self.name!r}, type={self.type!r}, samples={len(self.step)}, {shapes})"


class Run:
    """A finished (or interrupted) Laminar run, read eagerly into numpy arrays.

    `path` is the output folder or the laminar.h5 file itself."""

    def __init__(self, path: str):
        path = os.fspath(path)
        if os.path.isdir(path):
            self.dir, self.file = path, os.path.join(path, H5_NAME)
        else:
            self.dir, self.file = os.path.dirname(os.path.abspath(path)), path
        if not os.path.exists(self.file):
            raise FileNotFoundError(f"{self.file}: no Laminar output here (expected {H5_NAME})")
        with h5py.File(self.file, "r") as f:
            self.attrs = {k: _text(v) for k, v in f.attrs.items()}
            self.probes = {n: Probe(n, g) for n, g in f.get("probes", {}).items()}
            self.connections = {}
            for n, g in f.get("connections", {}).items():
                self.connections[n] = {k: np.asarray(g[k]) for k in g.keys() if isinstance(g[k], h5py.Dataset)}
        self.params_text = self.attrs.get("params", "")
        self.params = yaml.safe_load(self.params_text) if self.params_text else {}

    # --- params
    @property
    def simulation(self) -> dict:
        return self.params.get("simulation", {}) or {}

    @property
    def display_period(self) -> Optional[int]:
        v = self.simulation.get("display_period")
        return int(v) if v is not None else None

    def probes_of_type(self, type_name: str) -> list[str]:
        return [n for n, p in self.probes.items() if p.type == type_name]

    def probe(self, name: str) -> Probe:
        try:
            return self.probes[name]
        except KeyError:
            raise KeyError(f"no probe {name!r} in {self.file}; probes: {sorted(self.probes)}") from None

    # --- convenience accessors
    def energy(self, name: Optional[str] = None) -> dict[str, np.ndarray]:
        """An Energy probe's columns ('step', 'energy' and one per layer), each [samples, batch]."""
        if name is None:
            names = self.probes_of_type("Energy") or [n for n, p in self.probes.items() if "energy" in p]
            if not names:
                raise KeyError(f"no Energy probe in {self.file}")
            name = names[0]
        p = self.probe(name)
        out = {"step": p.step}
        out.update(p.data)
        return out

    def recorder(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """An ActivityRecorder's or ImageWriter's (steps [samples], data [samples, batch, ny, nx, nf])."""
        p = self.probe(name)
        return p.step, p.data.get("data", np.zeros((0,)))  # no samples yet: no dataset

    def weight_history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A WeightRecorder's (steps [samples], weights [samples, kernels, patch, patch, features])."""
        p = self.probe(name)
        return p.step, p.data.get("weights", np.zeros((0,)))

    def final_weights(self, connection: Optional[str] = None) -> np.ndarray:
        """Final weights of a plastic connection [kernels, patch, patch, features]."""
        if connection is None:
            if not self.connections:
                raise KeyError(f"no connection weights in {self.file}")
            connection = sorted(self.connections)[0]
        try:
            return self.connections[connection]["final_weights"]
        except KeyError:
            raise KeyError(f"no final weights for {connection!r} in {self.file}; have {sorted(self.connections)}") from None

    def __repr__(self) -> str:
        return f"Run({self.dir!r}, probes={sorted(self.probes)}, connections={sorted(self.connections)})"


def run_laminar(exe: str, params: str, out: str, sets: Sequence[str] = (), log: Callable[[str], None] = print,
                threads: Optional[str] = None, progress: bool = False, overwrite: bool = False) -> "Run":
    """`laminar run PARAMS -q -o OUT --set S ...` for scripts (the tutorials): OpenMP threads `threads`, or
    else OMP_NUM_THREADS, or else 1; passive OpenMP waiting unless OMP_WAIT_POLICY says otherwise; logs the
    output folder and the time; on failure exits with laminar's command line and output. With `progress`,
    laminar is not quiet and its progress lines (rate, ETA, energy) go straight to this process's output
    (a failure then shows laminar's error there). With `overwrite`, a run already in OUT is replaced
    (`--overwrite`); without it laminar refuses a used folder. Returns the Run."""
    args = [exe, "run", params, "-o", out] + ([] if progress else ["-q"]) + (["--overwrite"] if overwrite else [])
    for s in sets:
        args += ["--set", s]
    t0 = time.time()
    env = dict(os.environ, OMP_NUM_THREADS=threads or os.environ.get("OMP_NUM_THREADS", "1"),
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    if progress:
        sys.stdout.flush()
        proc = subprocess.run(args, env=env)
        if proc.returncode != 0:
            sys.exit(f"laminar failed ({proc.returncode}): {' '.join(args)}")
    else:
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"laminar failed ({proc.returncode}): {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    log(f"  laminar run -> {os.path.relpath(out)} ({time.time() - t0:.1f} s)")
    return Run(out)
