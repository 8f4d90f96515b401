"""Shared helpers for Laminar's system tests: build canonical LCA networks from numpy arrays, run the
`laminar` executable on them, and compare its HDF5 output with laminar.reference.

Each `Subnet` is one canonical network (ImageInput -> Error <- Convolution/Transpose -> LCA) with its
own data file, initial weights file and probes; several subnets can share one params file (one
laminar run), which keeps the number of runs small while covering many settings.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))  # when PYTHONPATH is not set

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from laminar import reference as ref  # noqa: E402
from laminar.run import Run  # noqa: E402

SKIP = 77  # ctest SKIP_RETURN_CODE

# The backend every run_laminar run uses (simulation.backend): cpu unless LAMINAR_TEST_BACKEND names
# another, so that the same reference tests check the device code path (device_emulation, and cuda on
# a machine with a GPU: ctest label gpu).
BACKEND = os.environ.get("LAMINAR_TEST_BACKEND", "")


def backend_args() -> list:
    return ["--set", f"simulation.backend={BACKEND}"] if BACKEND else []


def skip_if_no_gpu(stderr: str):
    """A cuda run refused because this build or machine has no GPU: skip (exit 77) with the reason."""
    if BACKEND == "cuda" and ("needs an NVIDIA GPU" in stderr or "built without CUDA" in stderr):
        print(f"SKIP: no usable GPU here: {stderr.strip()}")
        sys.exit(SKIP)


@dataclasses.dataclass
class Subnet:
    tag: str
    images: np.ndarray      # (N, ny, nx, nf) float32
    weights: np.ndarray     # (nk, p, p, nf) float32, as written to the init file
    lca: ref.LCAParams
    dictionary: ref.DictionaryParams
    input_normalize: str = "none"
    record_period: int = 1      # V1 membrane and activity, Error activity
    weight_period: Optional[int] = None  # WeightRecorder period (None: no recorder)

    # names in the params file
    def n(self, what: str) -> str:
        return f"{what}_{self.tag}"

    def reference(self, batch: int, display_period: int) -> ref.LCANetwork:
        return ref.LCANetwork(self.images, self.weights, self.lca, self.dictionary, batch=batch,
                              display_period=display_period, normalize=self.input_normalize)

    def write(self, tmp: str, params: dict):
        data = os.path.join(tmp, f"images_{self.tag}.h5")
        wfile = os.path.join(tmp, f"weights_{self.tag}.h5")
        with h5py.File(data, "w") as f:
            f["images"] = self.images.astype(np.float32)
        with h5py.File(wfile, "w") as f:
            f["weights"] = self.weights.astype(np.float32)
        p = self.lca
        v1 = {"type": "LCA", "nx": p.nx, "ny": p.ny, "nf": p.nf, "tau": p.tau, "lambda": p.lam,
              "threshold": p.threshold, "self_interaction": p.self_interaction, "integrator": p.integrator,
              "init_value": p.init_value}
        if p.dt != params["simulation"].get("dt", 1.0):
            v1["dt"] = p.dt
        if p.threshold == "firm":
            v1["firm_width"] = p.width
        if p.a_min is not None:
            v1["a_min"] = p.a_min
        if p.a_max is not None:
            v1["a_max"] = p.a_max
        if p.reset_on_input:
            v1["reset_on"] = self.n("Input")
        if p.momentum:
            v1["momentum"] = p.momentum
        L, C, P = params["layers"], params["connections"], params["probes"]
        L[self.n("Input")] = {"type": "ImageInput", "path": data, "format": "hdf5", "dataset": "images",
                              "normalize": self.input_normalize}
        L[self.n("Error")] = {"type": "Error"}
        L[self.n("V1")] = v1
        d = self.dictionary
        C[self.n("InputToError")] = {"type": "Identity", "pre": self.n("Input"), "post": self.n("Error"),
                                     "channel": "excitatory"}
        C[self.n("Dictionary")] = {"type": "Convolution", "pre": self.n("V1"), "post": self.n("Error"),
                                   "channel": "inhibitory", "patch_size": d.patch, "init": "file",
                                   "init_file": wfile, "init_dataset": "weights", "normalize": d.normalize,
                                   "strength": d.strength, "learning_rate": d.learning_rate,
                                   "momentum": d.momentum}
        C[self.n("ErrorToV1")] = {"type": "Transpose", "original": self.n("Dictionary"), "pre": self.n("Error"),
                                  "post": self.n("V1"), "channel": "excitatory"}
        P[self.n("Energy")] = {"type": "Energy", "layers": [self.n("Error"), self.n("V1")]}
        if self.record_period:
            P[self.n("Membrane")] = {"type": "ActivityRecorder", "layer": self.n("V1"), "buffer": "membrane",
                                     "period": self.record_period}
            P[self.n("Activity")] = {"type": "ActivityRecorder", "layer": self.n("V1"), "period": self.record_period}
            P[self.n("Residual")] = {"type": "ActivityRecorder", "layer": self.n("Error"),
                                     "period": self.record_period}
        if self.weight_period:
            P[self.n("Weights")] = {"type": "WeightRecorder", "connection": self.n("Dictionary"),
                                    "period": self.weight_period, "png": False}


def params_skeleton(steps: int, batch: int, display_period: int, output: str, dt: float = 1.0) -> dict:
    return {"simulation": {"steps": steps, "batch_size": batch, "display_period": display_period, "dt": dt,
                           "seed": 1, "output": output, "csv": False},
            "layers": {}, "connections": {}, "probes": {}}


def run_laminar(exe: str, params: dict, tmp: str, name: str = "net", extra: tuple = ()) -> tuple[Run, float]:
    path = os.path.join(tmp, f"{name}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(params, f, sort_keys=False)
    # One OpenMP thread unless LAMINAR_TEST_THREADS says otherwise: ctest runs tests side by side, and
    # spinning OpenMP threads on a busy machine make a sub-second run take many seconds.
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
    t0 = time.time()
    proc = subprocess.run([exe, "run", path, "-q", *backend_args(), *extra], capture_output=True, text=True, env=env)
    secs = time.time() - t0
    if proc.returncode != 0:
        skip_if_no_gpu(proc.stderr)
        raise RuntimeError(f"laminar run {path} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return Run(params["simulation"]["output"]), secs


def run_tutorial(folder: str, exe: str, out: str, full: bool, threads_when_full: bool = True,
                 tail: int = 4000) -> subprocess.CompletedProcess:
    """A tutorial's run.sh into `out` (--tiny unless `full`), one OpenMP thread unless LAMINAR_TEST_THREADS or
    OMP_NUM_THREADS say otherwise (for a full run only if `threads_when_full`); prints the end of its output."""
    args = [os.path.join(folder, "run.sh"), "--output", out, "--laminar", exe] + ([] if full else ["--tiny"])
    env = dict(os.environ)
    if threads_when_full or not full:
        env.setdefault("OMP_NUM_THREADS", os.environ.get("LAMINAR_TEST_THREADS", "1"))
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    print(proc.stdout[-tail:])
    return proc


class Checker:
    """Collects comparisons; each prints one line with the worst error; exit status at the end."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def close(self, what: str, got, want, rtol: float = 1e-5, atol: float = 0.0, scale: Optional[float] = None,
              elementwise: bool = False):
        """|got - want| <= atol + rtol * S, where S = scale or max|want| over the whole array (so values
        near zero in an array of O(1) numbers are held to the array's scale, not to their own size);
        elementwise=True: S = |want| element by element (for positive quantities such as energies)."""
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        self.count += 1
        if got.shape != want.shape:
            self.failures.append(what)
            print(f"FAIL {what}: shape {got.shape} != reference {want.shape}")
            return False
        err = np.abs(got - want)
        if elementwise:
            tol = np.full(want.shape, atol) + rtol * np.abs(want)
            ok = bool(np.all(err <= tol))
            worst = float(np.max(err / np.maximum(np.abs(want), 1e-300))) if err.size else 0.0
            desc = f"max relative diff {worst:.3e} (tolerance {rtol:.0e} relative + {atol:.0e})"
        else:
            S = float(np.max(np.abs(want))) if scale is None else scale
            S = S if S > 0 else 1.0
            tol = np.full(want.shape, atol + rtol * S)
            ok = bool(np.all(err <= tol))
            worst = float(np.max(err)) if err.size else 0.0
            desc = f"max |diff| {worst:.3e} (tolerance {atol + rtol * S:.3e}, scale {S:.3g})"
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {desc}")
        if not ok:
            idx = np.unravel_index(int(np.argmax(err / np.maximum(tol, 1e-300))), err.shape)
            print(f"     worst at {idx}: laminar {got[idx]!r} reference {want[idx]!r}")
            self.failures.append(what)
        return ok

    def true(self, what: str, cond: bool, detail: str = ""):
        self.count += 1
        print(f"{'ok  ' if cond else 'FAIL'} {what}{': ' + detail if detail else ''}")
        if not cond:
            self.failures.append(what)
        return cond

    def exit(self) -> int:
        if self.failures:
            print(f"{len(self.failures)} of {self.count} checks failed: {', '.join(self.failures)}")
            return 1
        print(f"all {self.count} checks passed")
        return 0


def numbers(x, path=""):
    """(path, value) of every number in a JSON-like tree (dicts and lists), e.g. "table1.pixels.0.0.mean"."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from numbers(v, f"{path}.{k}" if path else k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, x


class workdir:
    """A temporary folder, or $LAMINAR_TEST_KEEP (kept, for looking at the files after a failure)."""

    def __enter__(self) -> str:
        keep = os.environ.get("LAMINAR_TEST_KEEP")
        if keep:
            os.makedirs(keep, exist_ok=True)
            self._tmp = None
            return keep
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix="laminar-systest-")
        return self._tmp.name

    def __exit__(self, *exc):
        if self._tmp is not None:
            self._tmp.cleanup()


def random_weights(rng: np.random.Generator, nk: int, patch: int, nf: int, unit: bool = True) -> np.ndarray:
    w = rng.standard_normal((nk, patch, patch, nf))
    if unit:
        w /= np.sqrt(np.sum(w * w, axis=(1, 2, 3), keepdims=True))
    return w.astype(np.float32)


def random_images(rng: np.random.Generator, n: int, ny: int, nx: int, nf: int) -> np.ndarray:
    """Smooth-ish random images (a random field plus a few blobs) so that codes are neither all-zero nor dense."""
    x = rng.standard_normal((n, ny, nx, nf))
    # a little spatial correlation: average with shifted copies
    x = (x + np.roll(x, 1, axis=1) + np.roll(x, 1, axis=2)) / np.sqrt(3.0)
    return x.astype(np.float32)


def compare_recorded(chk: Checker, run: Run, s: Subnet, traj: ref.Trajectory, rtol: float = 1e-5):
    """Recorded V1 membrane/activity, Error activity and Energy columns against the reference trajectory."""
    for probe, want_all in ((s.n("Membrane"), traj.membrane), (s.n("Activity"), traj.activity),
                            (s.n("Residual"), traj.error)):
        if probe not in run.probes:
            continue
        steps, data = run.recorder(probe)
        chk.true(f"{probe} steps", np.array_equal(steps, np.arange(s.record_period - 1, traj.membrane.shape[0],
                                                                     s.record_period)),
                 f"{len(steps)} samples")
        chk.close(f"{probe} vs reference", data, want_all[steps], rtol=rtol)
    en = run.energy_arrays(s.n("Energy"))
    steps = en["step"]
    chk.true(f"{s.n('Energy')} sampled every step", np.array_equal(steps, np.arange(traj.energy.shape[0])))
    # Energies are sums of nonnegative terms: compared relative to each value, with a floor of 1e-7 of
    # the column's largest value (float32 resolution) for values that are tiny after a reset.
    for col, want in ((s.n("Error"), traj.error_energy), (s.n("V1"), traj.sparsity_energy), ("energy", traj.energy)):
        want = want[steps]
        chk.close(f"{s.n('Energy')}.{col}", en[col], want, rtol=rtol, atol=1e-7 * float(np.max(want)),
                  elementwise=True)
