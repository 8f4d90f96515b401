#!/usr/bin/env python3
"""An independent PyTorch implementation of the paper's network (params/paper/deep-sparse-coding.yaml), built
from a Laminar params file: the reference for issue 15's speed comparison, and a check that Laminar computes
what the params file says (tests/system/test_torch_paper_network.py runs both and compares every buffer).

What it implements, with Laminar's semantics (framework/Network.cpp, framework/Simulation.cpp,
layers/LCALayer.cpp, layers/ErrorLayer.cpp, framework/ElementMath.hpp, framework/CpuConvolution.cpp,
connections/*.cpp):

  layers       ImageInput, TextInput  fixed inputs: set_inputs() gives their activity (their data loading,
                                      rendering and normalisation are not reimplemented; the test feeds in
                                      what Laminar's input layers held)
               Error                  e = scale (excitatory - inhibitory); with `mask: <input>` zero for the
                                      batch elements where that input's modality is absent
               LCA                    u <- decay u + (1 - decay)(exc - inh + self a), decay = exp(-dt/tau)
                                      (integrator exponential; euler: u <- u + dt/tau (drive - u)),
                                      a = T_lambda(u): soft, soft_nonneg, hard, firm (+ a_min/a_max clamps);
                                      init_membrane constant (init_value), reset_on: reset by set_inputs()
  connections  Identity               post += scale * pre (pre_buffer activity or membrane)
               Convolution            Phi a: the stride is the ratio of the layer sizes per axis, kernels
                                      (coarse nf, patch_size_y, patch_size, fine nf), centred offset
                                      -floor((patch - stride)/2), zero outside the layer, times scale;
                                      conv_transpose2d where the pre layer is the coarse one (an LCA code
                                      reconstructing), conv2d where it is the fine one
               Transpose              the adjoint of its original (conv2d for Phi^T e), times its scale
               Feedback               post (inhibitory) += strength * pre; strength 0 leaves it out of the
                                      schedule, as in Laminar
  channels     excitatory / inhibitory (summed in connection declaration order), none (not delivered)
  schedule     Laminar's: each layer's incoming deliveries then its update, layers in the order of
               Network::derive_schedule (topological; a cycle is broken at the first layer, in declaration
               order, whose unplaced inputs are all LCA layers), so a delivery sees this step's value of a
               pre layer already updated this step and the previous step's value otherwise. For the paper
               network: every Error layer is computed from the previous step's codes and membranes, then the
               LCA layer it drives updates.

Full-field connections (the joint layer P1: a 1x1 coarse layer whose kernel covers the whole fine layer) are
matrix products instead of convolutions. Everything is float32, NCHW, under torch.no_grad(). How each
connection computes Phi a and Phi^T e is chosen by measurement (TorchNetwork.tune, called by time_network):
Phi a by conv_transpose2d (this torch build's slow_conv_transpose2d: im2col + OpenBLAS) or by conv2d's input
gradient (oneDNN's backward-data convolution), Phi^T e by conv2d (oneDNN); full-field ones by one matmul
for the batch or by a matrix-vector product per batch element (3-4x faster than OpenBLAS's sgemm at batch
<= 4). All give the same numbers up to float32 summation order (the test runs each against Laminar).

Threads: torch's OpenMP pool (its kernels and oneDNN) and OpenBLAS's own pthreads pool (matrix products,
slow_conv_transpose2d) compete for the cores; time_network tries OpenBLAS at 1 and at `threads` threads and
keeps the faster (on a 2-core machine, 1: up to 7x faster per step). On a machine shared with other work,
OMP_WAIT_POLICY=PASSIVE in the environment (set before Python starts) avoids OpenMP's spin-waiting, which
then costs up to 10x; this module leaves the environment alone.

Not implemented: learning (the Hebbian update fires once per display period, 1 step in 400; the timed loop
is inference only, and the weights stay as given), init_membrane uniform (Laminar's random stream; load the
state with load_state_from_laminar instead), MPI. Probes are ignored (run(energies=True) computes the Energy
probe's totals); a probe kind that is not one of the observing ones (e.g. an adaptive timestep) is refused,
as is any layer or connection kind not listed above.

Weights: random (seeded; uniform in [init_min, init_max], each kernel scaled to L2 norm `strength` as
`normalize: l2` does) for timing, or loaded from a Laminar run (load_weights_from_laminar: a checkpoint, an
output folder or its laminar.h5) to check against Laminar.

API (the benchmark script imports this file):
    params = load_params(path=PAPER, sets=["layers.V1.lambda=0.2", ...])  # YAML dict + `--set` overrides
    params = apply_overrides(params_dict, sets)   # the same on a dict already parsed
    net = build(params, batch, seed=1)            # TorchNetwork, random weights
    net.load_weights_from_laminar(path)           # checkpoint .h5, output folder, or laminar.h5
    net.load_state_from_laminar(checkpoint)       # every layer's activity and membrane
    net.set_weights({name: w}) / net.weights()    # Laminar's layout (kernels, patch_y, patch_x, features)
    net.set_inputs(image, text, present=None, reset=True)   # (batch, ny, nx, nf) each, input layers in
                                                  # declaration order (or by name); resets reset_on layers
    energies = net.run(steps, energies=False)     # None, or (steps, batch) float64 totals like the Energy probe
    net.state("V1", "membrane")                   # numpy (batch, ny, nx, nf)
    net.tune()                                    # fastest method per connection, {name: (Phi a, Phi^T e)}
    net.dense_macs_per_step()                     # multiply-adds per step and batch element, dense
    set_threads(threads, blas_threads=None)
    time_network(params, batch, steps, threads, warmup=5, seed=1, mkldnn=None, tune=True, blas_threads=None,
                 verbose=False, details=None) -> seconds per step   # random weights and inputs

CLI:
    /usr/bin/python3 benchmarks/torch_paper_network.py --batch 4 --steps 50 --threads 2
        [--params FILE] [--set KEY=VALUE ...] [--warmup 5] [--seed 1] [--no-mkldnn] [--no-tune]
        [--blas-threads N] [-v] [--json FILE]
prints seconds per step and seconds per input pair (display_period steps, 400 in the paper file, / batch).
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import glob
import json
import math
import os
import sys
import time
from typing import Optional, Sequence

import numpy as np
import yaml

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PAPER = os.path.join(ROOT, "params", "paper", "deep-sparse-coding.yaml")

INPUT_KINDS = ("ImageInput", "TextInput")
# Probes only observe; these are ignored. Any other probe kind might change the dynamics: refused.
OBSERVING_PROBES = ("Energy", "Stats", "ActivityRecorder", "WeightRecorder", "ImageWriter", "Norm")
LAYER_KINDS = INPUT_KINDS + ("Error", "LCA")
CONNECTION_KINDS = ("Identity", "Convolution", "Transpose", "Feedback")


# ------------------------------------------------------------------------------------------- params

def apply_overrides(params: dict, sets: Sequence[str]) -> dict:
    """A copy of `params` with `laminar run --set KEY=VALUE` overrides applied (KEY dotted, VALUE parsed as YAML)."""
    p = copy.deepcopy(params)
    for s in sets:
        key, eq, value = s.partition("=")
        if not eq:
            raise ValueError(f"--set {s!r}: expected KEY=VALUE")
        *path, last = key.split(".")
        d = p
        for k in path:
            d = d.setdefault(k, {})
        d[last] = yaml.safe_load(value)
    return p


def load_params(path: str = PAPER, sets: Sequence[str] = ()) -> dict:
    with open(path) as f:
        return apply_overrides(yaml.safe_load(f), sets)


def _f32(x: float) -> float:
    """x rounded to float32 (Laminar keeps these parameters as float)."""
    return float(np.float32(x))


def _floor_half(d: int) -> int:
    return d // 2  # Python's // floors, as ConvShape::make's floor_half


# ------------------------------------------------------------------------------------------- layers

class _Layer:
    def __init__(self, name: str, spec: dict, sim: dict):
        self.name, self.spec, self.kind = name, spec, spec.get("type")
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"layers.{name}: type {self.kind!r} is not supported (only {', '.join(LAYER_KINDS)})")
        given = [k for k in ("ny", "nx", "nf") if k in spec]
        if len(given) == 3:
            self.geom = (int(spec["ny"]), int(spec["nx"]), int(spec["nf"]))
        elif not given:
            self.geom = None
        else:
            raise ValueError(f"layers.{name}: give all of nx, ny and nf, or none")
        self.incoming = []  # connections delivering into this layer, in declaration order
        self.act = None
        self.mem = None
        if self.kind == "LCA":
            self.tau = float(spec.get("tau", 100.0))
            self.dt = float(spec.get("dt", sim.get("dt", 1.0)))
            self.euler = spec.get("integrator", "exponential") == "euler"
            self.self_interaction = bool(spec.get("self_interaction", True))
            self.threshold = spec.get("threshold", "soft")
            if self.threshold not in ("soft", "soft_nonneg", "hard", "firm"):
                raise ValueError(f"layers.{name}.threshold: {self.threshold!r}")
            self.lam = _f32(spec.get("lambda", 0.1))
            self.width = _f32(spec.get("firm_width", 0.0))
            self.a_min = _f32(spec["a_min"]) if "a_min" in spec else None
            self.a_max = _f32(spec["a_max"]) if "a_max" in spec else None
            if spec.get("init_membrane", "constant") != "constant":
                raise ValueError(f"layers.{name}.init_membrane: only constant is implemented "
                                 "(load a Laminar state with load_state_from_laminar)")
            self.init_value = _f32(spec.get("init_value", 0.0))
            self.reset_on = spec.get("reset_on")
            # as LCALayer::update: float(exp(-dt/tau)), 1.0f - decay, float(dt/tau)
            self.decay = _f32(math.exp(-self.dt / self.tau))
            self.one_minus_decay = float(np.float32(1.0) - np.float32(self.decay))
            self.rate = _f32(self.dt / self.tau)
        elif self.kind == "Error":
            self.scale = _f32(spec.get("scale", 1.0))
            self.mask = spec.get("mask")

    @property
    def stateful(self) -> bool:
        return self.kind == "LCA"

    def threshold_of(self, u: torch.Tensor) -> torch.Tensor:
        lam, t = self.lam, self.threshold
        if t == "soft_nonneg":
            a = torch.sub(u, lam).relu_()
        elif t == "soft":
            a = F.softshrink(u, lam)
        elif t == "hard":
            a = torch.where(u.abs() > lam, u, torch.zeros((), dtype=u.dtype))
        else:  # firm: 0 up to lambda, a ramp to u at lambda + width, u above
            m = u.abs()
            top = _f32(np.float32(lam) + np.float32(self.width))
            ramp = torch.sign(u) * top * (m - lam) / self.width
            a = torch.where(m <= lam, torch.zeros((), dtype=u.dtype), torch.where(m >= top, u, ramp))
        if self.a_min is not None or self.a_max is not None:
            a = a.clamp(self.a_min, self.a_max)
        return a

    def sparsity_cost(self) -> torch.Tensor:
        """lambda sum C(a) per batch element, in float64 (ElementMath.hpp's sparsity_cost)."""
        a, lam = self.act, self.lam
        if self.threshold in ("soft", "soft_nonneg"):
            c = lam * a.abs()
        elif self.threshold == "hard":
            c = (a != 0).to(a.dtype) * _f32(0.5 * lam * lam)
        else:
            top = _f32(np.float32(lam) + np.float32(self.width))
            m = a.abs()
            c = lam * torch.where(m < top, m * (1.0 - m / (2.0 * top)), torch.full_like(m, 0.5 * top))
        return c.double().flatten(1).sum(1)

    def reset(self, batch: int):
        if self.kind != "LCA":
            return
        self.mem = torch.full((batch, self.geom[2], self.geom[0], self.geom[1]), self.init_value)
        self.act = self.threshold_of(self.mem)


# ------------------------------------------------------------------------------------------- connections

class _Connection:
    def __init__(self, name: str, spec: dict):
        self.name, self.spec, self.kind = name, spec, spec.get("type")
        if self.kind not in CONNECTION_KINDS:
            raise ValueError(f"connections.{name}: type {self.kind!r} is not supported (only "
                             f"{', '.join(CONNECTION_KINDS)})")
        self.pre_name, self.post_name = spec["pre"], spec["post"]
        default_channel = "inhibitory" if self.kind == "Feedback" else "excitatory"
        self.channel = spec.get("channel", default_channel)
        if self.kind == "Feedback":
            if self.channel != "inhibitory":
                raise ValueError(f"connections.{name}: Feedback delivers into the inhibitory channel only")
            self.scale = _f32(spec.get("strength", 1.0))
            if self.scale == 0.0:
                self.channel = "none"  # left out of the schedule
        else:
            self.scale = _f32(spec.get("scale", 1.0))
        self.membrane = spec.get("pre_buffer", "activity") == "membrane"
        self.original = None
        self.pre = self.post = None

    def pre_buffer(self) -> torch.Tensor:
        return self.pre.mem if self.membrane else self.pre.act

    def deliver(self) -> torch.Tensor:
        x = self.pre_buffer()
        if self.kind in ("Identity", "Feedback"):
            return x if self.scale == 1.0 else x * self.scale
        if self.kind == "Convolution":
            y = self.scatter(x) if self.kernels_on_pre else self.gather(x)
        else:  # Transpose: the adjoint of the original
            o = self.original
            y = o.gather(x) if o.kernels_on_pre else o.scatter(x)
        return y if self.scale == 1.0 else y * self.scale

    # --- Convolution geometry and weights
    def setup_convolution(self):
        a, b = self.pre.geom, self.post.geom  # (ny, nx, nf)
        if b[1] % a[1] == 0 and b[0] % a[0] == 0:
            self.kernels_on_pre, sy, sx = True, b[0] // a[0], b[1] // a[1]
        elif a[1] % b[1] == 0 and a[0] % b[0] == 0:
            self.kernels_on_pre, sy, sx = False, a[0] // b[0], a[1] // b[1]
        else:
            raise ValueError(f"connections.{self.name}: layer sizes {a} and {b} do not differ by integer factors")
        px = int(self.spec["patch_size"])
        py = int(self.spec.get("patch_size_y", px))
        if px < sx or py < sy:
            raise ValueError(f"connections.{self.name}: patch {py}x{px} smaller than the stride {sy}x{sx}")
        self.fine, self.coarse = (b, a) if self.kernels_on_pre else (a, b)
        self.stride = (sy, sx)
        self.patch = (py, px)
        self.offset = (-_floor_half(py - sy), -_floor_half(px - sx))
        self.full_field = (self.coarse[0] == 1 and self.coarse[1] == 1 and (py, px) == self.fine[:2]
                           and self.offset == (0, 0))
        # conv_transpose2d (scatter): torch output index t = y_fine - offset + crop; padding P = -offset
        # crops P on each side, then the end is cropped or zero-padded to the fine size.
        self._scatter = []
        self._gather = []
        for axis in (0, 1):
            s, p, o = self.stride[axis], self.patch[axis], self.offset[axis]
            nf, nc = self.fine[axis], self.coarse[axis]
            P = -o  # >= 0, since patch >= stride
            length = (nc - 1) * s - 2 * P + p
            extra = nf - length  # > 0: output_padding (if < stride) or zero padding; < 0: crop the end
            self._scatter.append((P, extra if 0 <= extra < s else 0, extra))
            # conv2d (gather): padding P on the left; Laminar pads the right by R (zero outside the layer)
            R = max(0, (nc - 1) * s + o + p - nf)
            self._gather.append((P, R))
        self.weight = None  # (kernels, fine nf, patch_y, patch_x): conv2d's and conv_transpose2d's layout
        # How Phi a and Phi^T e are computed (tune() picks the fastest; all give the same numbers up to
        # summation order): full-field "mm" (one matrix product for the batch) or "mv" (a matrix-vector
        # product per batch element: several times faster than OpenBLAS's sgemm at batch <= 4); otherwise Phi a
        # by "conv_transpose2d" (torch's slow_conv_transpose2d on this CPU build) or "conv2d_backward" (the
        # input gradient of conv2d, oneDNN's backward-data convolution), Phi^T e by "conv2d".
        self.scatter_method = self.gather_method = None
        self._like = {}

    def set_weights(self, w_laminar: np.ndarray):
        """Weights in Laminar's layout (kernels, patch_y, patch_x, features)."""
        k, py, px, f = self.coarse[2], self.patch[0], self.patch[1], self.fine[2]
        w = np.asarray(w_laminar, dtype=np.float32)
        if w.shape != (k, py, px, f):
            raise ValueError(f"connections.{self.name}: weights {w.shape}, expected {(k, py, px, f)}")
        self.weight = torch.from_numpy(np.ascontiguousarray(w.transpose(0, 3, 1, 2))).contiguous()
        if self.full_field:
            self.wmat = self.weight.reshape(k, -1)            # (k, f*py*px): NCHW flattening of the fine layer
            self.wmat_t = self.wmat.t().contiguous()          # (f*py*px, k)

    def weights_laminar(self) -> np.ndarray:
        return self.weight.permute(0, 2, 3, 1).contiguous().numpy()

    def methods(self) -> tuple:
        """The ways this connection can compute (Phi a, Phi^T e)."""
        if self.full_field:
            return ("mm", "mv"), ("mm", "mv")
        # conv2d's input gradient is Phi a only where conv2d with padding P gives exactly the coarse size
        ok = all((n_f + 2 * P - p) // s + 1 == n_c for (P, _, _), n_f, n_c, p, s in
                 zip(self._scatter, self.fine[:2], self.coarse[:2], self.patch, self.stride))
        return ("conv_transpose2d",) + (("conv2d_backward",) if ok else ()), ("conv2d",)

    def default_methods(self, batch: int):
        small = batch <= 4
        self.scatter_method = ("mv" if small else "mm") if self.full_field else "conv_transpose2d"
        self.gather_method = ("mv" if small else "mm") if self.full_field else "conv2d"

    def scatter(self, a: torch.Tensor) -> torch.Tensor:
        """Phi a: coarse (B, k, ncy, ncx) -> fine (B, f, nfy, nfx)."""
        B = a.shape[0]
        if self.scatter_method is None:
            self.default_methods(B)
        if self.full_field:
            flat = a.reshape(B, -1)
            if self.scatter_method == "mv":
                wt = self.wmat.t()
                y = torch.stack([torch.mv(wt, flat[b]) for b in range(B)])
            else:
                y = torch.mm(flat, self.wmat)
            return y.view(B, self.fine[2], self.fine[0], self.fine[1])
        (Py, opy, ey), (Px, opx, ex) = self._scatter
        if self.scatter_method == "conv2d_backward":
            shape = (B, self.fine[2], self.fine[0], self.fine[1])
            like = self._like.get(shape)
            if like is None:
                like = self._like[shape] = torch.empty(shape)
            return torch.ops.aten.convolution_backward(a, like, self.weight, None, list(self.stride), [Py, Px], [1, 1],
                                                       False, [0, 0], 1, [True, False, False])[0]
        y = F.conv_transpose2d(a, self.weight, stride=self.stride, padding=(Py, Px), output_padding=(opy, opx))
        if ey < 0 or ex < 0:
            y = y[:, :, :self.fine[0], :self.fine[1]]
        if ey - opy > 0 or ex - opx > 0:
            y = F.pad(y, (0, max(0, ex - opx), 0, max(0, ey - opy)))
        return y

    def gather(self, e: torch.Tensor) -> torch.Tensor:
        """Phi^T e: fine (B, f, nfy, nfx) -> coarse (B, k, ncy, ncx)."""
        B = e.shape[0]
        if self.gather_method is None:
            self.default_methods(B)
        if self.full_field:
            flat = e.reshape(B, -1)
            if self.gather_method == "mv":
                y = torch.stack([torch.mv(self.wmat, flat[b]) for b in range(B)])
            else:
                y = torch.mm(flat, self.wmat_t)
            return y.view(B, self.coarse[2], 1, 1)
        (Py, Ry), (Px, Rx) = self._gather
        if Ry <= Py and Rx <= Px:
            y = F.conv2d(e, self.weight, stride=self.stride, padding=(Py, Px))
        else:
            y = F.conv2d(F.pad(e, (Px, Rx, Py, Ry)), self.weight, stride=self.stride)
        if y.shape[2] != self.coarse[0] or y.shape[3] != self.coarse[1]:
            y = y[:, :, :self.coarse[0], :self.coarse[1]]
        return y

    def dense_macs(self) -> int:
        """Multiply-adds of one delivery per batch element (counted as gpu_paper_network.py does)."""
        return self.coarse[0] * self.coarse[1] * self.coarse[2] * self.patch[0] * self.patch[1] * self.fine[2]


# ------------------------------------------------------------------------------------------- network

class TorchNetwork:
    """The network of a Laminar params dict; buffers are NCHW float32 tensors, (batch, nf, ny, nx)."""

    def __init__(self, params: dict, batch: int, seed: int = 1):
        self.params = params
        self.batch = int(batch)
        sim = params.get("simulation", {}) or {}
        self.display_period = int(sim.get("display_period", 1))
        for n, s in (params.get("probes") or {}).items():
            if (s or {}).get("type") not in OBSERVING_PROBES:
                raise ValueError(f"probes.{n}: type {(s or {}).get('type')!r} is not supported (only the observing "
                                 f"probes {', '.join(OBSERVING_PROBES)}, which are ignored)")
        self.layers = {n: _Layer(n, s, sim) for n, s in (params.get("layers") or {}).items()}
        self.connections = {n: _Connection(n, s) for n, s in (params.get("connections") or {}).items()}
        for c in self.connections.values():
            for end, name in (("pre", c.pre_name), ("post", c.post_name)):
                if name not in self.layers:
                    raise ValueError(f"connections.{c.name}.{end}: no layer named {name!r}")
            c.pre, c.post = self.layers[c.pre_name], self.layers[c.post_name]
            if c.kind == "Transpose":
                o = self.connections.get(c.spec["original"])
                if o is None or o.kind != "Convolution":
                    raise ValueError(f"connections.{c.name}.original: not a Convolution")
                if o.pre_name != c.post_name or o.post_name != c.pre_name:
                    raise ValueError(f"connections.{c.name}: must go {o.post_name} -> {o.pre_name}")
                c.original = o
            if c.membrane and c.pre.kind != "LCA":
                raise ValueError(f"connections.{c.name}: pre_buffer membrane needs an LCA pre layer")
        self._infer_geometry()
        for c in self.connections.values():
            if c.kind in ("Identity", "Feedback") and c.pre.geom != c.post.geom:
                raise ValueError(f"connections.{c.name}: {c.kind} needs equal sizes ({c.pre.geom} vs {c.post.geom})")
            if c.kind == "Convolution":
                c.setup_convolution()
            if c.channel != "none":
                c.post.incoming.append(c)
        for l in self.layers.values():
            if l.kind in INPUT_KINDS and l.incoming:
                raise ValueError(f"layers.{l.name}: an input layer receives no connections")
            if l.kind == "Error" and l.mask is not None and self.layers.get(l.mask) is None:
                raise ValueError(f"layers.{l.name}.mask: no layer named {l.mask!r}")
        self.schedule = self._derive_schedule()
        self.inputs = [l for l in self.layers.values() if l.kind in INPUT_KINDS]
        self.present = {}  # input name -> (batch,) bool tensor, where some element is absent
        self.randomize_weights(seed)
        self.reset(all_layers=True)

    # --- construction
    def _infer_geometry(self):
        changed = True
        while changed:
            changed = False
            for c in self.connections.values():
                if c.kind not in ("Identity", "Feedback"):
                    continue
                a, b = c.pre, c.post
                if a.geom and not b.geom:
                    b.geom, changed = a.geom, True
                if b.geom and not a.geom:
                    a.geom, changed = b.geom, True
        for l in self.layers.values():
            if not l.geom:
                raise ValueError(f"layers.{l.name}: size unknown (give nx, ny and nf)")

    def _derive_schedule(self) -> list:
        """Network::derive_schedule: topological order; a cycle is broken at the first layer (declaration
        order) whose unplaced inputs are all stateful (LCA)."""
        order = list(self.layers.values())
        placed = set()
        schedule = []

        def unplaced(l):
            return [c.pre for c in l.incoming if c.pre is not l and c.pre.name not in placed]

        while len(schedule) < len(order):
            pick = next((l for l in order if l.name not in placed and not unplaced(l)), None)
            if pick is None:
                pick = next((l for l in order if l.name not in placed and all(p.stateful for p in unplaced(l))), None)
            if pick is None:
                raise ValueError("the layers form a cycle with no LCA layer to break it")
            placed.add(pick.name)
            schedule.append(pick)
        return schedule

    def describe_schedule(self) -> str:
        pos = {l.name: k for k, l in enumerate(self.schedule)}
        lines = []
        for k, l in enumerate(self.schedule):
            lines.append(f"{k + 1}. {l.name} ({l.kind})")
            for c in l.incoming:
                when = "this step" if pos[c.pre.name] < k else "previous step"
                sign = "+" if c.channel == "excitatory" else "-"
                buf = "membrane" if c.membrane else "activity"
                lines.append(f"     {sign} {c.pre.name}.{buf} via {c.name}, {when}")
        return "\n".join(lines)

    # --- weights
    def convolutions(self) -> list:
        return [c for c in self.connections.values() if c.kind == "Convolution"]

    def randomize_weights(self, seed: int = 1):
        """Uniform in [init_min, init_max] (Laminar's defaults -1, 1), then each kernel scaled to L2 norm
        `strength` where `normalize: l2` (the default), as ConvolutionConnection::initialize does (its
        random stream is Laminar's own; these are other numbers from the same distribution)."""
        g = torch.Generator().manual_seed(int(seed))
        for c in self.convolutions():
            lo, hi = float(c.spec.get("init_min", -1.0)), float(c.spec.get("init_max", 1.0))
            k, (py, px), f = c.coarse[2], c.patch, c.fine[2]
            w = torch.rand((k, py, px, f), generator=g, dtype=torch.float64) * (hi - lo) + lo
            if c.spec.get("normalize", "l2") == "l2":
                norm = w.flatten(1).norm(dim=1).clamp_min(1e-300)
                w = w * (float(c.spec.get("strength", 1.0)) / norm).view(-1, 1, 1, 1)
            c.set_weights(w.float().numpy())

    def set_weights(self, weights: dict):
        """{convolution name: array (kernels, patch_y, patch_x, features)}, Laminar's layout, used as given."""
        for name, w in weights.items():
            c = self.connections.get(name)
            if c is None or c.kind != "Convolution":
                raise KeyError(f"{name!r} is not a Convolution of this network")
            c.set_weights(w)

    def weights(self) -> dict:
        return {c.name: c.weights_laminar() for c in self.convolutions()}

    def load_weights_from_laminar(self, path: str):
        """Every Convolution's weights from a Laminar run: a checkpoint file (connections/<name>/weights), an
        output folder (its newest checkpoint, else its laminar.h5), or a laminar.h5 (connections/<name>/
        final_weights of plastic connections, else the last sample of a WeightRecorder of that connection)."""
        import h5py
        path = _laminar_file(path)
        found = {}
        with h5py.File(path, "r") as f:
            recorders = {}
            for pname, g in (f["probes"].items() if "probes" in f else []):
                if _attr(g, "type") == "WeightRecorder" and "weights" in g:
                    recorders[_attr(g, "connection")] = g["weights"]
            for c in self.convolutions():
                for key in (f"connections/{c.name}/weights", f"connections/{c.name}/final_weights"):
                    if key in f:
                        found[c.name] = f[key][()]
                        break
                else:
                    if c.name in recorders and recorders[c.name].shape[0] > 0:
                        found[c.name] = recorders[c.name][-1]
        missing = [c.name for c in self.convolutions() if c.name not in found]
        if missing:
            raise KeyError(f"{path}: no weights for {', '.join(missing)} (use a checkpoint, or record them with a "
                           "WeightRecorder)")
        self.set_weights(found)

    def load_state_from_laminar(self, checkpoint: str):
        """Every layer's activity and membrane from a Laminar checkpoint (layers/<name>/activity, membrane)."""
        import h5py
        with h5py.File(_laminar_file(checkpoint), "r") as f:
            for l in self.layers.values():
                g = f[f"layers/{l.name}"]
                l.act = _to_nchw(g["activity"][()])
                if l.kind == "LCA":
                    l.mem = _to_nchw(g["membrane"][()])
                if l.kind in INPUT_KINDS:
                    self._set_presence(l, None)

    # --- state
    def reset(self, all_layers: bool = False):
        """The initial state: every LCA layer with reset_on (all of them if all_layers) back to init_value;
        error activities zero."""
        for l in self.layers.values():
            shape = (self.batch, l.geom[2], l.geom[0], l.geom[1])
            if l.kind == "LCA" and (all_layers or l.reset_on):
                l.reset(self.batch)
            elif l.kind == "Error" or (all_layers and l.act is None):
                l.act = torch.zeros(shape)

    def set_inputs(self, *arrays, present: Optional[dict] = None, reset: bool = True, **named):
        """The input layers' activity, arrays (batch, ny, nx, nf) in Laminar's layout: positional ones for
        the input layers in declaration order (Image, Text), or by name. `present`: {input name: (batch,) bool}
        for masked errors; by default an ImageInput with absent_if_blank or a TextInput is absent where the
        array is all zero (a blank face, a withheld name), and every other input present. `reset`: a new
        input resets the LCA layers with reset_on, as Laminar does at the start of each display period."""
        if len(arrays) > len(self.inputs):
            raise ValueError(f"{len(arrays)} arrays for {len(self.inputs)} input layers")
        given = {l.name: a for l, a in zip(self.inputs, arrays)}
        given.update(named)
        for name, a in given.items():
            l = self.layers.get(name)
            if l is None or l.kind not in INPUT_KINDS:
                raise KeyError(f"{name!r} is not an input layer")
            a = np.asarray(a, dtype=np.float32)
            if a.shape != (self.batch,) + l.geom:
                raise ValueError(f"input {name}: shape {a.shape}, expected {(self.batch,) + l.geom}")
            l.act = _to_nchw(a)
            self._set_presence(l, None if present is None else present.get(name))
        if reset:
            self.reset()

    def _set_presence(self, l: _Layer, present):
        if present is None and (l.kind == "TextInput" or l.spec.get("absent_if_blank", False)):
            present = (l.act.flatten(1) != 0).any(1).numpy()
        if present is None or bool(np.all(present)):
            self.present.pop(l.name, None)
        else:
            self.present[l.name] = torch.from_numpy(np.asarray(present, dtype=bool))

    def state(self, name: str, buffer: str = "activity") -> np.ndarray:
        """A layer's activity or membrane, numpy (batch, ny, nx, nf) as Laminar stores it."""
        l = self.layers[name]
        t = l.mem if buffer == "membrane" else l.act
        return t.permute(0, 2, 3, 1).contiguous().numpy()

    # --- dynamics
    def step(self):
        for l in self.schedule:
            if l.kind in INPUT_KINDS:
                continue
            exc = inh = None
            for c in l.incoming:  # Simulation::step: clear, deliver in declaration order, update
                d = c.deliver()
                if c.channel == "excitatory":
                    exc = d if exc is None else exc + d
                else:
                    inh = d if inh is None else inh + d
            if l.kind == "Error":
                if exc is not None and inh is not None:
                    e = torch.sub(exc, inh)
                elif exc is not None:
                    e = exc.clone()
                elif inh is not None:
                    e = torch.neg(inh)
                else:
                    e = torch.zeros_like(l.act)
                if l.scale != 1.0:
                    e.mul_(l.scale)
                if l.mask is not None and l.mask in self.present:
                    e.mul_(self.present[l.mask].to(e.dtype).view(-1, 1, 1, 1))
                l.act = e
            else:  # LCA
                if exc is not None and inh is not None:
                    drive = torch.sub(exc, inh)
                elif exc is not None:
                    drive = exc.clone()
                elif inh is not None:
                    drive = torch.neg(inh)
                else:
                    drive = torch.zeros_like(l.mem)
                if l.self_interaction:
                    drive.add_(l.act)
                if l.euler:
                    l.mem.add_(drive.sub_(l.mem), alpha=l.rate)
                else:
                    l.mem.mul_(l.decay).add_(drive, alpha=l.one_minus_decay)
                l.act = l.threshold_of(l.mem)

    def energy_terms(self, stateful: bool) -> torch.Tensor:
        total = torch.zeros(self.batch, dtype=torch.float64)
        for l in self.layers.values():
            if l.kind == "LCA" and stateful:
                total += l.sparsity_cost()
            elif l.kind == "Error" and not stateful:
                total += 0.5 * l.act.double().square().flatten(1).sum(1)
        return total

    def run(self, steps: int, energies: bool = False):
        """`steps` LCA steps. energies=True: (steps, batch) float64, each step's total as Laminar's Energy
        probe reports it (LCA terms at the start of the step, error terms at its end)."""
        out = [] if energies else None
        with torch.no_grad():
            for _ in range(int(steps)):
                if energies:
                    start = self.energy_terms(True)
                self.step()
                if energies:
                    out.append((start + self.energy_terms(False)).numpy())
        return np.stack(out) if energies else None

    def tune(self, reps: int = 3, verbose: bool = False) -> dict:
        """For every Convolution, the fastest way (Connection.methods) to compute Phi a and Phi^T e at this
        batch size and thread count, best of `reps` timed calls each on random values; returns
        {connection: (scatter method, gather method)}. Without it, the defaults are used."""
        chosen = {}
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():
            for c in self.convolutions():
                a = torch.rand((self.batch, c.coarse[2], c.coarse[0], c.coarse[1]), generator=g)
                e = torch.rand((self.batch, c.fine[2], c.fine[0], c.fine[1]), generator=g)
                best = []
                for which, methods, fn, x in (("scatter", c.methods()[0], c.scatter, a),
                                              ("gather", c.methods()[1], c.gather, e)):
                    times = {}
                    for m in methods:
                        setattr(c, which + "_method", m)
                        fn(x)
                        t = math.inf
                        for _ in range(reps):
                            t0 = time.perf_counter()
                            fn(x)
                            t = min(t, time.perf_counter() - t0)
                        times[m] = t
                    m = min(times, key=times.get)
                    setattr(c, which + "_method", m)
                    best.append(m)
                    if verbose:
                        print(f"  {c.name} {which}: " + ", ".join(f"{k} {1e3 * v:.3f} ms" for k, v in times.items()))
                chosen[c.name] = tuple(best)
        return chosen

    def dense_macs_per_step(self) -> int:
        """Dense multiply-adds per step and batch element: every Convolution's Phi a and its Transpose's Phi^T e."""
        total = 0
        for c in self.connections.values():
            if c.channel == "none":
                continue
            if c.kind == "Convolution":
                total += c.dense_macs()
            elif c.kind == "Transpose":
                total += c.original.dense_macs()
        return total


def _to_nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float32).transpose(0, 3, 1, 2)))


def _attr(g, key):
    v = g.attrs.get(key)
    return v.decode() if isinstance(v, bytes) else (str(v) if v is not None else None)


def _laminar_file(path: str) -> str:
    """A checkpoint or laminar.h5 as given, or an output folder's newest checkpoint (else its laminar.h5)."""
    if os.path.isdir(path):
        ckpts = sorted(glob.glob(os.path.join(path, "checkpoints", "step-*.h5")))
        if ckpts:
            return ckpts[-1]
        if os.path.exists(os.path.join(path, "laminar.h5")):
            return os.path.join(path, "laminar.h5")
        ckpts = sorted(glob.glob(os.path.join(path, "step-*.h5")))
        if ckpts:
            return ckpts[-1]
        raise FileNotFoundError(f"{path}: no checkpoint and no laminar.h5")
    return path


def build(params: dict, batch: int, seed: int = 1) -> TorchNetwork:
    """The network of a parsed Laminar params dict (after any --set overrides), random weights (seeded)."""
    return TorchNetwork(params, batch, seed)


# ------------------------------------------------------------------------------------------- timing

def set_threads(threads: int, blas_threads: Optional[int] = None):
    """Intra-op threads of torch (OpenMP: its own kernels and oneDNN's) and of OpenBLAS (a separate pthreads
    pool, used by matrix products and slow_conv_transpose2d; default: as many as torch)."""
    torch.set_num_threads(int(threads))
    blas = int(threads if blas_threads is None else blas_threads)
    for lib in ("libopenblas.so.0", "libopenblas.so"):
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(blas)
            break
        except (OSError, AttributeError):
            continue


def time_network(params: dict, batch: int, steps: int, threads: int, warmup: int = 5, seed: int = 1,
                 mkldnn: Optional[bool] = None, tune: bool = True, blas_threads: Optional[int] = None,
                 verbose: bool = False, details: Optional[dict] = None) -> float:
    """Seconds per LCA step of the network at `batch`, random weights and inputs (the cost of dense
    convolutions does not depend on the values), measured over `steps` steps after tuning and `warmup`
    untimed steps. Tuning (tune=True): for each OpenBLAS thread count tried (blas_threads, or both 1 and
    `threads` when None: on few cores torch's OpenMP threads and OpenBLAS's pthreads compete), the fastest
    method of every connection (TorchNetwork.tune), then 3 timed steps; the fastest setting is kept.
    mkldnn: None = torch's default (oneDNN convolutions where torch uses them), False = torch's native
    im2col + BLAS convolutions. `details` (a dict), if given, receives the settings chosen."""
    net = build(params, batch, seed)
    g = torch.Generator().manual_seed(seed + 1)
    net.set_inputs(**{l.name: torch.rand((batch,) + l.geom, generator=g).numpy() for l in net.inputs})
    flags = torch.backends.mkldnn.flags(enabled=mkldnn) if mkldnn is not None else _nullcontext()
    candidates = [blas_threads] if blas_threads is not None or not tune else sorted({1, int(threads)})
    with flags:
        best = None
        for bt in candidates:
            set_threads(threads, bt)
            chosen = net.tune(verbose=verbose) if tune else None
            secs = 0.0
            if len(candidates) > 1:
                net.run(2)
                t0 = time.perf_counter()
                net.run(3)
                secs = (time.perf_counter() - t0) / 3
                if verbose:
                    print(f"  OpenBLAS threads {bt}: {secs:.4f} s per step")
            if best is None or secs < best[0]:
                best = (secs, bt, chosen)
        _, bt, chosen = best
        set_threads(threads, bt)
        for name, (sm, gm) in (chosen or {}).items():
            net.connections[name].scatter_method, net.connections[name].gather_method = sm, gm
        if verbose and chosen:
            print(f"  chosen: OpenBLAS threads {bt}; " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in chosen.items()))
        net.run(warmup)
        t0 = time.perf_counter()
        net.run(steps)
        secs = time.perf_counter() - t0
    if details is not None:
        details.update({"threads": int(threads), "blas_threads": bt if bt is not None else int(threads),
                        "methods": {c.name: (c.scatter_method, c.gather_method) for c in net.convolutions()}})
    return secs / max(1, int(steps))


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default=PAPER)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as laminar run --set")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-mkldnn", action="store_true", help="torch's native convolutions (im2col + OpenBLAS)")
    ap.add_argument("--no-tune", action="store_true", help="the default methods, not the fastest measured")
    ap.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: tuned, 1 or --threads)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the tuning measurements")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    params = load_params(args.params, args.set)
    period = int(params["simulation"].get("display_period", 400))
    details = {}
    spt = time_network(params, args.batch, args.steps, args.threads, args.warmup, args.seed,
                       mkldnn=False if args.no_mkldnn else None, tune=not args.no_tune,
                       blas_threads=args.blas_threads, verbose=args.verbose, details=details)
    macs = build(params, 1).dense_macs_per_step()
    per_pair = spt * period / args.batch
    gflops = 2 * macs * args.batch / spt / 1e9
    print(f"torch {torch.__version__} ({'native+OpenBLAS' if args.no_mkldnn else 'oneDNN'} convolutions), "
          f"{args.threads} threads (OpenBLAS {details['blas_threads']}), batch {args.batch}, {args.steps} steps: "
          f"{spt:.4f} s per step, "
          f"{per_pair:.3f} s per pair ({period} steps), {gflops:.1f} GFLOP/s dense-equivalent")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds_per_step": spt, "seconds_per_pair": per_pair, "batch": args.batch,
                       "threads": args.threads, "steps": args.steps, "display_period": period,
                       "gflops": gflops, "mkldnn": not args.no_mkldnn, "torch": torch.__version__, **details}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
