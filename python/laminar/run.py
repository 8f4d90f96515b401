"""Reading a Laminar run: `<output>/laminar.h5` (see the Output section of the architecture notes).

Layout written by `laminar run`:
    /                               attributes params (resolved YAML), params_file, laminar_version, schedule
    probes/<name>/step              [samples] step numbers
    probes/<Energy>/energy, <layer> [samples, batch]
    probes/<Stats>/{fraction_nonzero, mean, min, max}
    probes/<ActivityRecorder>/data  [samples, batch, ny, nx, nf] (+ item for input layers)
    probes/<WeightRecorder>/weights [samples, kernels, patch, patch, features]
    connections/<conn>/final_weights [kernels, patch, patch, features] (plastic connections)

`Run` reads lazily: opening a run reads the attributes, the step numbers and the datasets' shapes;
a dataset is read when asked for, and `Run.activity(..., steps=)` / `Run.weights(...)` read only the
samples asked for.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Callable, Optional, Sequence, Union

import h5py
import numpy as np
import yaml

H5_NAME = "laminar.h5"
# Root attributes that are text even when they look like numbers.
_TEXT_ATTRS = {"params", "params_file", "laminar_version", "schedule", "run_id", "mpi_decomposition"}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)")


def _text(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray):  # variable-length strings may come back as 0-d arrays
        return _text(v.item()) if v.ndim == 0 or v.size == 1 else str(v.tolist())
    return str(v)


def _value(key: str, v):
    """An attribute as a Python value: text as str, and numbers as int/float whether the file stores them
    as numbers or as text."""
    if isinstance(v, np.ndarray):
        if v.ndim == 0 or v.size == 1:
            v = v.reshape(-1)[0]
        else:
            return [_value(key, x) for x in v.tolist()]
    if isinstance(v, (bytes, str)):
        t = _text(v)
        if key not in _TEXT_ATTRS and _NUMBER.fullmatch(t.strip()):
            t = t.strip()
            try:
                return int(t)
            except ValueError:
                return float(t)
        return t
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


class _Datasets(Mapping):
    """The datasets of one HDF5 group, read from the file only when one is asked for (`shapes` needs no read)."""

    def __init__(self, file: str, group: h5py.Group, skip=()):
        self._file, self._path = file, group.name
        self.shapes = {k: tuple(group[k].shape) for k in group.keys()
                       if isinstance(group[k], h5py.Dataset) and k not in skip}
        self.dtypes = {k: group[k].dtype for k in self.shapes}
        # the dimension names laminar stores with each dataset (attribute `dimensions`, e.g. "sample,batch")
        self.dims = {}
        for k in self.shapes:
            names = _text(group[k].attrs.get("dimensions", "")).split(",")
            if len(names) == len(self.shapes[k]) and all(n.strip() for n in names):
                self.dims[k] = tuple(n.strip() for n in names)

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.shapes:
            raise KeyError(key)
        with h5py.File(self._file, "r") as f:
            return np.asarray(f[self._path][key])

    def read(self, key: str, selection) -> np.ndarray:
        """Part of a dataset (an h5py selection along its first axis, e.g. a slice), read by hyperslab."""
        if key not in self.shapes:
            raise KeyError(key)
        with h5py.File(self._file, "r") as f:
            return np.asarray(f[self._path][key][selection])

    def __iter__(self):
        return iter(self.shapes)

    def __len__(self) -> int:
        return len(self.shapes)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in self.shapes.items()) + "}"


class Probe:
    """One probe's group: `step` (read at once), every other dataset (read on access: `probe["data"]`,
    `probe.data["data"]`; `probe.shapes` without reading), and its attributes."""

    def __init__(self, name: str, group: h5py.Group, file: Optional[str] = None):
        self.name = name
        self.kernel_attributes = _kernel_attributes(group)
        self.attrs = {k: _text(v) for k, v in group.attrs.items() if k not in self.kernel_attributes}
        self.type = self.attrs.get("type")
        self.file = file or group.file.filename
        self.data = _Datasets(self.file, group, skip=("step",))
        self.shapes = self.data.shapes
        self.step = np.asarray(group["step"]) if "step" in group else np.zeros(0, dtype=np.int64)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self):
        return self.data.keys()

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{v}" for k, v in self.shapes.items())
        return f"Probe({self.name!r}, type={self.type!r}, samples={len(self.step)}, {shapes})"


def _kernel_attributes(obj) -> dict[str, np.ndarray]:
    """The per-kernel arrays a weight recorder wrote on `obj` (names in its `kernel_attributes` attribute)."""
    names = _text(obj.attrs["kernel_attributes"]).split(",") if "kernel_attributes" in obj.attrs else []
    return {n: np.asarray(obj.attrs[n]) for n in names if n in obj.attrs}


StepSelection = Union[None, int, slice, Sequence[int]]


class Run:
    """A finished (or interrupted) Laminar run. `path` is the output folder or the laminar.h5 file itself.

    Opening reads only attributes, step numbers and shapes; datasets are read when asked for:
        run.params                      the resolved params (dict)
        run.energy()                    pandas DataFrame: step, batch, energy, one column per layer
        run.table("Stats")              any table probe (Energy, Stats, Norm) as a DataFrame
        run.activity("V1", steps=slice(0, 100))   ActivityRecorder samples [samples, batch, ny, nx, nf]
        run.weights("D")                final weights (or a WeightRecorder sample) [kernels, py, px, nf]
        run.kernel_attributes("D")      per-kernel labels of those weights, e.g. theta0_deg (init: log_gabor)
        run.to_xarray()                 everything recorded as an xarray.Dataset with named dimensions
    """

    def __init__(self, path):
        path = os.fspath(path)
        if os.path.isdir(path):
            self.dir, self.file = path, os.path.join(path, H5_NAME)
        else:
            self.dir, self.file = os.path.dirname(os.path.abspath(path)), path
        if not os.path.exists(self.file):
            raise FileNotFoundError(f"{self.file}: no Laminar output here (expected {H5_NAME})")
        with h5py.File(self.file, "r") as f:
            self.attrs = {k: _text(v) for k, v in f.attrs.items()}
            self.meta = {k: _value(k, v) for k, v in f.attrs.items()}
            self.probes = {n: Probe(n, g, self.file) for n, g in f.get("probes", {}).items()}
            self.connections = {n: _Datasets(self.file, g) for n, g in f.get("connections", {}).items()}
        self.params_text = self.attrs.get("params", "")
        self.params = (yaml.safe_load(self.params_text) or {}) if self.params_text else {}

    # --- params
    @property
    def simulation(self) -> dict:
        return self.params.get("simulation", {}) or {}

    @property
    def display_period(self) -> Optional[int]:
        v = self.simulation.get("display_period")
        return int(v) if v is not None else None

    @property
    def version(self) -> Optional[str]:
        return self.attrs.get("laminar_version")

    def probes_of_type(self, type_name: str) -> list[str]:
        return [n for n, p in self.probes.items() if p.type == type_name]

    def probe(self, name: str) -> Probe:
        try:
            return self.probes[name]
        except KeyError:
            raise KeyError(f"no probe {name!r} in {self.file}; probes: {sorted(self.probes)}") from None

    # --- selections
    def _energy_probe(self, name: Optional[str]) -> str:
        if name is not None:
            return name
        names = self.probes_of_type("Energy") or [n for n, p in self.probes.items() if "energy" in p]
        if not names:
            raise KeyError(f"no Energy probe in {self.file}; probes: {sorted(self.probes)}")
        return names[0]

    @staticmethod
    def _select(step: np.ndarray, steps: StepSelection, samples: StepSelection):
        """An h5py selection along the samples axis: `samples` by index (int, slice, list), or `steps`
        by step number (an int: the sample taken at that step; a slice: start <= step < stop, its step
        a stride over those samples; a list of step numbers)."""
        if samples is not None and steps is not None:
            raise ValueError("give steps or samples, not both")
        n = len(step)
        if samples is not None:
            if isinstance(samples, (int, np.integer)):
                i = int(samples) + (n if samples < 0 else 0)
                if not 0 <= i < n:
                    raise IndexError(f"sample {samples} out of range ({n} samples)")
                return i
            if isinstance(samples, slice):
                return slice(*samples.indices(n))
            return _sorted_unique(np.arange(n)[np.asarray(samples, dtype=np.int64)])
        if steps is None:
            return slice(0, n)
        if isinstance(steps, (int, np.integer)):
            hit = np.flatnonzero(step == steps)
            if not len(hit):
                raise KeyError(f"no sample at step {steps} (sampled steps: {_steps_text(step)})")
            return int(hit[0])
        if isinstance(steps, slice):
            lo = 0 if steps.start is None else int(np.searchsorted(step, steps.start, side="left"))
            hi = n if steps.stop is None else int(np.searchsorted(step, steps.stop, side="left"))
            return slice(lo, max(lo, hi), steps.step)
        want = np.asarray(steps, dtype=np.int64)
        idx = np.searchsorted(step, want)
        bad = [int(s) for s, i in zip(want, idx) if i >= n or step[i] != s]
        if bad:
            raise KeyError(f"no sample at steps {bad} (sampled steps: {_steps_text(step)})")
        return _sorted_unique(idx)

    def _recorder_name(self, layer_or_probe: str, types=("ActivityRecorder", "ImageWriter")) -> str:
        if layer_or_probe in self.probes:
            return layer_or_probe
        by_layer = [n for n, p in self.probes.items() if p.type in types and p.attrs.get("layer") == layer_or_probe]
        if not by_layer:
            recorders = [n for n, p in self.probes.items() if p.type in types]
            raise KeyError(f"no probe or recorded layer {layer_or_probe!r} in {self.file}; "
                           f"recorders: {sorted(recorders)}")
        # prefer the recorder of the layer's activity
        by_layer.sort(key=lambda n: (self.probes[n].attrs.get("buffer", "activity") != "activity",
                                     self.probes[n].type != "ActivityRecorder", n))
        return by_layer[0]

    # --- tables
    def table(self, name: str, steps: StepSelection = None, samples: StepSelection = None):
        """A table probe (Energy, Stats, Norm: datasets [samples, batch]) as a long pandas DataFrame with
        columns step, batch and one per dataset (as the probe's CSV), reading only the selected samples."""
        import pandas as pd

        p = self.probe(name)
        sel = self._select(p.step, steps, samples)
        step = np.atleast_1d(p.step[sel])
        cols = [k for k, s in p.shapes.items() if len(s) == 2 and s[0] == len(p.step)]
        cols.sort(key=lambda k: (k not in ("energy", "value"), k))
        if not cols:
            return pd.DataFrame({"step": np.zeros(0, dtype=np.int64), "batch": np.zeros(0, dtype=np.int64)})
        batch = p.shapes[cols[0]][1]
        out = {"step": np.repeat(step, batch), "batch": np.tile(np.arange(batch, dtype=np.int64), len(step))}
        for k in cols:
            out[k] = np.atleast_2d(p.data.read(k, sel)).reshape(-1)
        return pd.DataFrame(out)

    def energy(self, name: Optional[str] = None, steps: StepSelection = None, samples: StepSelection = None):
        """An Energy probe (the first one, or `name`) as a pandas DataFrame: columns step, batch, energy and
        one per layer term, one row per step and batch element. `energy_arrays` gives [samples, batch] arrays."""
        return self.table(self._energy_probe(name), steps=steps, samples=samples)

    def energy_arrays(self, name: Optional[str] = None) -> dict[str, np.ndarray]:
        """An Energy probe's columns ('step' [samples], 'energy' and one per layer [samples, batch])."""
        p = self.probe(self._energy_probe(name))
        out = {"step": p.step}
        out.update({k: p[k] for k in p.keys()})
        return out

    # --- recordings
    def steps(self, name: str) -> np.ndarray:
        """The step numbers at which a probe (or the recorder of a layer) sampled."""
        if name not in self.probes:
            name = self._recorder_name(name)
        return self.probe(name).step

    def activity(self, layer_or_probe: str, steps: StepSelection = None, samples: StepSelection = None) -> np.ndarray:
        """An ActivityRecorder's (or ImageWriter's) samples [samples, batch, ny, nx, nf], by probe name or by
        layer name (that layer's activity recorder), reading only the selection: `steps` by step number
        (int, slice(start, stop) with stop exclusive, or a list), or `samples` by index. An int selects one
        sample ([batch, ny, nx, nf])."""
        p = self.probe(self._recorder_name(layer_or_probe))
        if "data" not in p:
            if len(p.step) == 0 and steps is None and samples is None:
                return np.zeros((0,), dtype=np.float32)  # never sampled: no dataset
            raise KeyError(f"probe {p.name!r} ({p.type}) holds no recorded data")
        return p.data.read("data", self._select(p.step, steps, samples))

    def weights(self, conn: Optional[str] = None, sample: int = -1) -> np.ndarray:
        """Weights [kernels, patch, patch, features]: of a WeightRecorder probe (`conn` its name) at sample
        index `sample`; of a connection, its final weights for sample=-1 where it has them, else that
        sample of a WeightRecorder of that connection."""
        if conn is None:
            if not self.connections:
                raise KeyError(f"no connection weights in {self.file}")
            conn = sorted(self.connections)[0]
        if conn in self.probes and "weights" in self.probes[conn]:
            p = self.probes[conn]
            return p.data.read("weights", self._select(p.step, None, sample))
        if sample == -1 and "final_weights" in self.connections.get(conn, {}):
            return self.connections[conn]["final_weights"]
        recs = [n for n, p in self.probes.items()
                if p.type == "WeightRecorder" and p.attrs.get("connection") == conn and "weights" in p]
        if recs:
            p = self.probes[sorted(recs)[0]]
            return p.data.read("weights", self._select(p.step, None, sample))
        raise KeyError(f"no weights for {conn!r} in {self.file}: connections with final weights "
                       f"{sorted(self.connections)}, weight recorders {sorted(self.probes_of_type('WeightRecorder'))}")

    def kernel_attributes(self, name: str) -> dict[str, np.ndarray]:
        """Per-kernel labels of the weights, {attribute: array [kernels]} (`init: log_gabor`: theta0_deg,
        b_theta_deg, phase_deg), of a WeightRecorder probe (`name` its name) or of a connection (its final
        weights' or a WeightRecorder's of it); {} when the weights carry none."""
        if name in self.probes and self.probes[name].type == "WeightRecorder":
            return dict(self.probes[name].kernel_attributes)
        with h5py.File(self.file, "r") as f:
            d = f.get(f"connections/{name}/final_weights")
            if d is not None and "kernel_attributes" in d.attrs:
                return _kernel_attributes(d)
        recs = sorted(n for n, p in self.probes.items() if p.type == "WeightRecorder" and p.attrs.get("connection") == name)
        if not recs and name not in self.connections:
            raise KeyError(f"no weights for {name!r} in {self.file}: connections with final weights "
                           f"{sorted(self.connections)}, weight recorders {sorted(self.probes_of_type('WeightRecorder'))}")
        return dict(self.probes[recs[0]].kernel_attributes) if recs else {}

    def recorder(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """An ActivityRecorder's or ImageWriter's (steps [samples], data [samples, batch, ny, nx, nf])."""
        p = self.probe(name)
        return p.step, p.data["data"] if "data" in p else np.zeros((0,))  # no samples yet: no dataset

    def weight_history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A WeightRecorder's (steps [samples], weights [samples, kernels, patch, patch, features])."""
        p = self.probe(name)
        return p.step, p.data["weights"] if "weights" in p else np.zeros((0,))

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

    # --- xarray
    def to_xarray(self, probe: Optional[str] = None):
        """The run as an xarray.Dataset (reads everything). With `probe` (a probe or recorded layer name),
        that probe alone with dimensions step, batch, y, x, feature (recorders), step, batch (tables) or
        step, kernel, y, x, feature (weight recorders). Without, every probe and the final weights, the
        dimensions prefixed by the probe's name (`Rec_step`, `Rec_y`, ...; `batch` is shared) and the
        variables named `<probe>` (recorders) or `<probe>_<column>` (tables); attributes: the run's."""
        import xarray as xr

        if probe is not None:
            name = probe if probe in self.probes else self._recorder_name(probe)
            return xr.Dataset(self._xr_vars(name, ""), attrs=self._xr_attrs(self.probes[name].attrs))
        variables = {}
        for name in self.probes:
            variables.update(self._xr_vars(name, name + "_"))
        for conn, d in self.connections.items():
            for k, shape in d.shapes.items():
                stored = d.dims.get(k)
                dims = tuple(conn + "_" + x for x in stored) if stored else _weight_dims(len(shape), conn + "_")
                variables[f"{conn}_{k}"] = xr.DataArray(d[k], dims=dims)
        return xr.Dataset(variables, attrs=self._xr_attrs(self.meta))

    @staticmethod
    def _xr_attrs(attrs: dict) -> dict:
        return {k: v for k, v in attrs.items() if isinstance(v, (str, int, float))}

    def _xr_vars(self, name: str, prefix: str) -> dict:
        import xarray as xr

        p = self.probes[name]
        sdim = prefix + "step"
        coords = {sdim: p.step}
        out = {}
        n = len(p.step)
        for k, shape in p.shapes.items():
            if not shape or shape[0] != n:
                continue
            rest = len(shape) - 1
            stored = p.data.dims.get(k)
            if stored and stored[0] == "sample" and len(set(stored)) == len(stored):
                dims = (sdim,) + tuple(d if d == "batch" else prefix + d for d in stored[1:])
            elif k == "data" and rest == 4:
                dims = (sdim, "batch", prefix + "y", prefix + "x", prefix + "feature")
            elif k == "weights" and rest == 4:
                dims = (sdim,) + _weight_dims(4, prefix)
            elif rest == 1:
                dims = (sdim, "batch")
            else:
                dims = (sdim,) + tuple(f"{prefix}{k}_dim{i}" for i in range(rest))
            # one probe: variables keep their dataset names; all: <probe> (data, weights), <probe>_<dataset>
            var = k if not prefix else (name if k in ("data", "weights") else prefix + k)
            out[var] = xr.DataArray(p[k], dims=dims, coords=coords, attrs=self._xr_attrs(p.attrs))
        return out

    def __repr__(self) -> str:
        return f"Run({self.dir!r}, probes={sorted(self.probes)}, connections={sorted(self.connections)})"


def _weight_dims(ndim: int, prefix: str) -> tuple:
    names = ("kernel", "y", "x", "feature")
    return tuple(prefix + d for d in names[:ndim]) if ndim <= 4 else tuple(f"{prefix}dim{i}" for i in range(ndim))


def _sorted_unique(idx: np.ndarray):
    """h5py fancy selections must be increasing: reject anything else rather than reorder silently."""
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    if len(idx) > 1 and np.any(np.diff(idx) <= 0):
        raise ValueError("a list of samples or steps must be increasing")
    return list(map(int, idx))


def _steps_text(step: np.ndarray) -> str:
    s = [int(x) for x in step]
    return str(s) if len(s) <= 8 else f"{s[:4]} ... {s[-2:]} ({len(s)} samples)"


def run_laminar(exe: str, params: str, out: str, sets: Sequence[str] = (), log: Callable[[str], None] = print,
                threads: Optional[str] = None, progress: bool = False, overwrite: bool = False) -> "Run":
    """`laminar run PARAMS -q -o OUT --set S ...` for scripts (the tutorials): OpenMP threads `threads`, or
    else OMP_NUM_THREADS, or else 1; passive OpenMP waiting unless OMP_WAIT_POLICY says otherwise; logs the
    output folder and the time; on failure exits with laminar's command line and output. With `progress`,
    laminar is not quiet and its progress lines (rate, ETA, energy) go straight to this process's output
    (a failure then shows laminar's error there). With `overwrite`, a run already in OUT is replaced
    (`--overwrite`); without it laminar refuses a used folder. Returns the Run."""
    from .api import command

    args = command(exe, "run", params, output=out, sets=list(sets), overwrite=overwrite, quiet=not progress)
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
