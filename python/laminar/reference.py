"""A plain numpy reference of Laminar's canonical LCA network, written from the equations.

Network (OpenPV's canonical LCA graph, Rozell et al.)::

    Input --Identity(+)--> Error <--Phi(-)-- V1 <--Phi^T(+)-- Error

Arrays are float64 and laid out [batch, ny, nx, nf]; dictionaries are [kernels, patch_y, patch_x, features].

Convolution geometry.  The kernel owner is the coarser layer (V1, nk features); kernel k is a
``patch x patch x nf_fine`` patch on the finer layer.  With ``stride = n_fine / n_coarse`` and
``offset = -floor((patch - stride) / 2)``, kernel k at coarse position (cy, cx) covers the fine
positions ``y = cy*stride + offset + py``, ``x = cx*stride + offset + px`` (0 <= py, px < patch);
fine positions outside the grid are zero (zero padding).  So::

    (Phi a)[b, y, x, f]     = sum_{cy, cx, k, py, px : y, x as above} W[k, py, px, f] a[b, cy, cx, k]
    (Phi^T e)[b, cy, cx, k] = sum_{py, px, f} W[k, py, px, f] e[b, cy*s + o + py, cx*s + o + px, f]
    dW[k, py, px, f]        = mean_b sum_{cy, cx} a[b, cy, cx, k] e[b, cy*s + o + py, cx*s + o + px, f]

Here they are evaluated on a zero-padded copy of the fine layer: Phi a one (py, px) tap at a time
(strided slice assignment), Phi^T e and dW as one einsum over a strided window view of every
receptive field (nothing is shared with the C++ kernels, which use covering ranges and a
transposed weight copy).

Time step n (schedule Input -> Error -> V1, learning after all layers, probes last)::

    Input:  x(n) = images presented at presentation n // display_period (new ones when n % dp == 0)
    Reset:  if reset_on_input and n > 0 and n % dp == 0: u <- u_init, a <- T(u_init) (before Error reads a)
    Error:  e(n) = scale * (x(n) - Phi a(n-1))           a(-1) = T(u_init)
    V1:     drive = Phi^T e(n) (+ a(n-1) with self_interaction)
            exponential Euler: u(n) = d u(n-1) + (1 - d) drive,    d = exp(-dt/tau)
            forward Euler:     u(n) = u(n-1) + dt/tau (drive - u(n-1))
            with an adaptive timestep (run(timescale=s)), batch element b uses dt_b = s[n, b] dt instead
            (forward Euler: min(dt_b, tau)); AdaptiveTimescale is the controller that chooses s
            a(n) = T_lambda(u(n))
    Learn:  if (n + 1) % dp == 0 and learning_rate > 0:
            dW = mean_b sum_pos a(n) (x) e(n);  if dW == 0 everywhere: no change at all (no evidence);  v = mu v + dW (momentum) or v = dW;  W += eta v;
            W <- strength * W / ||W_k||  per kernel (normalize: l2)
    Energy: E(n) = 0.5 ||e(n)||^2 + sum lambda C(a(n))
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

THRESHOLDS = ("soft", "soft_nonneg", "hard", "firm")


# --------------------------------------------------------------------------- geometry and Phi

def conv_offset(patch: int, stride: int) -> int:
    """offset = -floor((patch - stride) / 2): where a kernel's first tap lies relative to cy*stride."""
    return -((patch - stride) // 2)


def _pair(v) -> tuple[int, int]:
    """(y, x) from an int (both axes) or a pair: strides and patch sizes may differ per axis."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _padded(fine_n: int, coarse_n: int, stride: int, patch: int) -> tuple[int, int]:
    """(low pad, padded length) so that every tap c*stride + offset + p lands inside the padded axis."""
    lo = -conv_offset(patch, stride)  # >= 0 because patch >= stride
    length = max(lo + fine_n, (coarse_n - 1) * stride + patch)
    return lo, length


def _tap(P: np.ndarray, py: int, px: int, ncy: int, ncx: int, stride) -> np.ndarray:
    """The padded fine positions that tap (py, px) of every coarse neuron reads: [B, ncy, ncx, nf]."""
    sy, sx = _pair(stride)
    return P[:, py:py + (ncy - 1) * sy + 1:sy, px:px + (ncx - 1) * sx + 1:sx, :]


def _check(W: np.ndarray, coarse_shape, fine_shape, stride):
    nk, py, px, nf = W.shape
    if coarse_shape[2] != nk or fine_shape[2] != nf:
        raise ValueError(f"weights {W.shape} do not fit coarse {coarse_shape} / fine {fine_shape}")
    for c, f, s, p in zip(coarse_shape[:2], fine_shape[:2], _pair(stride), (py, px)):
        if c * s != f:
            raise ValueError(f"coarse {coarse_shape} x stride {stride} != fine {fine_shape}")
        if p < s:
            raise ValueError("patch smaller than stride")


def phi(W: np.ndarray, a: np.ndarray, fine_shape, stride) -> np.ndarray:
    """Reconstruction Phi a: coarse activity a [B, ncy, ncx, nk] -> fine [B, nfy, nfx, nff].
    `stride`: an int, or (sy, sx) when the axes differ; the patch is W.shape[1:3] (py, px)."""
    B, ncy, ncx, nk = a.shape
    nfy, nfx, nff = fine_shape
    _check(W, (ncy, ncx, nk), fine_shape, stride)
    sy, sx = _pair(stride)
    pyn, pxn = W.shape[1], W.shape[2]
    loy, Ly = _padded(nfy, ncy, sy, pyn)
    lox, Lx = _padded(nfx, ncx, sx, pxn)
    P = np.zeros((B, Ly, Lx, nff))
    for py in range(pyn):
        for px in range(pxn):
            _tap(P, py, px, ncy, ncx, (sy, sx))[...] += np.einsum("byxk,kf->byxf", a, W[:, py, px, :])
    return P[:, loy:loy + nfy, lox:lox + nfx, :]


def _pad_fine(e: np.ndarray, coarse_shape, stride, patch) -> np.ndarray:
    B, nfy, nfx, nff = e.shape
    (sy, sx), (py, px) = _pair(stride), _pair(patch)
    loy, Ly = _padded(nfy, coarse_shape[0], sy, py)
    lox, Lx = _padded(nfx, coarse_shape[1], sx, px)
    P = np.zeros((B, Ly, Lx, nff))
    P[:, loy:loy + nfy, lox:lox + nfx, :] = e
    return P


def _patches(P: np.ndarray, ncy: int, ncx: int, stride, patch) -> np.ndarray:
    """Every coarse neuron's receptive field on the padded fine layer: [B, ncy, ncx, py, px, nf]
    (a strided view: element [b, cy, cx, py, px, f] is P[b, cy*sy + py, cx*sx + px, f])."""
    (sy, sx), (py, px) = _pair(stride), _pair(patch)
    win = np.lib.stride_tricks.sliding_window_view(P, (py, px), axis=(1, 2))  # [B, Y, X, nf, py, px]
    win = win[:, 0:(ncy - 1) * sy + 1:sy, 0:(ncx - 1) * sx + 1:sx]
    return np.moveaxis(win, 3, 5)


def phi_t(W: np.ndarray, e: np.ndarray, coarse_shape, stride) -> np.ndarray:
    """Adjoint Phi^T e: fine e [B, nfy, nfx, nff] -> coarse [B, ncy, ncx, nk]."""
    ncy, ncx, nk = coarse_shape
    _check(W, coarse_shape, e.shape[1:], stride)
    p = (W.shape[1], W.shape[2])
    P = _pad_fine(e, coarse_shape, stride, p)
    return np.einsum("byxijf,kijf->byxk", _patches(P, ncy, ncx, stride, p), W, optimize=True)


def hebbian(a: np.ndarray, e: np.ndarray, patch, stride) -> np.ndarray:
    """dW[k, py, px, f] = mean_b sum_{cy, cx} a[b, cy, cx, k] e[b, y(cy, py), x(cx, px), f].
    `patch` and `stride`: ints, or (y, x) pairs."""
    B, ncy, ncx, nk = a.shape
    P = _pad_fine(e, (ncy, ncx, nk), stride, patch)
    return np.einsum("byxk,byxijf->kijf", a, _patches(P, ncy, ncx, stride, patch), optimize=True) / B


def normalize_l2(W: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Each kernel (dictionary element) scaled to L2 norm `strength`; all-zero kernels stay zero."""
    norms = np.sqrt(np.sum(W.astype(np.float64) ** 2, axis=(1, 2, 3), keepdims=True))
    return np.where(norms > 0, W * strength / np.where(norms > 0, norms, 1.0), W)


# --------------------------------------------------------------------------- element math

def threshold(u: np.ndarray, kind: str = "soft", lam: float = 0.1, width: float = 0.0,
              a_min: Optional[float] = None, a_max: Optional[float] = None) -> np.ndarray:
    """T_lambda(u): soft sign(u) max(|u|-lam, 0); soft_nonneg max(u-lam, 0); hard u where |u| > lam;
    firm 0 for |u| <= lam, u for |u| >= lam + width, linear in between (continuous; OpenPV VWidth)."""
    u = np.asarray(u, dtype=np.float64)
    m = np.abs(u)
    if kind == "soft":
        a = np.sign(u) * np.maximum(m - lam, 0.0)
    elif kind == "soft_nonneg":
        a = np.maximum(u - lam, 0.0)
    elif kind == "hard":
        a = np.where(m > lam, u, 0.0)
    elif kind == "firm":
        if width <= 0:
            raise ValueError("firm threshold needs width > 0")
        ramp = np.sign(u) * (m - lam) * (lam + width) / width  # 0 at m = lam, u at m = lam + width
        a = np.where(m <= lam, 0.0, np.where(m >= lam + width, u, ramp))
    else:
        raise ValueError(f"unknown threshold {kind!r}")
    if a_min is not None:
        a = np.maximum(a, a_min)
    if a_max is not None:
        a = np.minimum(a, a_max)
    return a


def sparsity_cost(a: np.ndarray, kind: str = "soft", lam: float = 0.1, width: float = 0.0) -> np.ndarray:
    """lambda * C(a) per element: lam |a| (soft, soft_nonneg); lam^2/2 [a != 0] (hard, OpenPV L0);
    firm: lam * (|a| (1 - |a| / (2 t)) if |a| < t else t / 2), t = lam + width (OpenPV)."""
    m = np.abs(np.asarray(a, dtype=np.float64))
    if kind in ("soft", "soft_nonneg"):
        return lam * m
    if kind == "hard":
        return np.where(m > 0, 0.5 * lam * lam, 0.0)
    if kind == "firm":
        t = lam + width
        return lam * np.where(m < t, m * (1.0 - m / (2.0 * t)), 0.5 * t)
    raise ValueError(f"unknown threshold {kind!r}")


def normalize_image(x: np.ndarray, how: str = "none") -> np.ndarray:
    """Per-image normalisation of ImageInput: none, zero_mean, standardize (population std), unit_norm."""
    x = np.asarray(x, dtype=np.float64)
    if how == "none":
        return x.copy()
    mean = 0.0 if how == "unit_norm" else x.mean()
    d = x - mean
    if how == "zero_mean":
        div = 1.0
    elif how == "standardize":
        div = math.sqrt(np.mean(d * d))
    elif how == "unit_norm":
        div = math.sqrt(np.sum(d * d))
    else:
        raise ValueError(f"unknown normalize {how!r}")
    return d / (div if div > 1e-12 else 1.0)


# --------------------------------------------------------------------------- the network

@dataclasses.dataclass
class LCAParams:
    nx: int
    ny: int
    nf: int
    tau: float = 100.0
    dt: float = 1.0
    lam: float = 0.1
    threshold: str = "soft"
    width: float = 0.0
    a_min: Optional[float] = None
    a_max: Optional[float] = None
    self_interaction: bool = True
    integrator: str = "exponential"  # or "euler"
    init_value: float = 0.0
    reset_on_input: bool = False
    momentum: float = 0.0  # heavy ball: delta = (integrator's step) + momentum * previous delta


@dataclasses.dataclass
class DictionaryParams:
    patch: int
    learning_rate: float = 0.0
    momentum: float = 0.0
    normalize: str = "l2"  # or "none"
    strength: float = 1.0


@dataclasses.dataclass
class Trajectory:
    """Every step's buffers (index n = step n) and the weights after each step."""
    input: np.ndarray        # [steps, B, ny, nx, nf]
    error: np.ndarray        # [steps, B, ...fine]
    membrane: np.ndarray     # [steps, B, ...coarse]
    activity: np.ndarray     # [steps, B, ...coarse]
    error_energy: np.ndarray     # [steps, B]  0.5 ||e||^2
    sparsity_energy: np.ndarray  # [steps, B]  sum lambda C(a(n-1)): the code at the start of step n
    weights: np.ndarray      # [steps, k, p, p, f]: after learning on that step
    items: np.ndarray        # [steps, B] dataset index shown
    timescale: Optional[np.ndarray] = None  # [steps, B] dt multipliers used (run(timescale=...)), else None

    @property
    def energy(self) -> np.ndarray:
        return self.error_energy + self.sparsity_energy


class LCANetwork:
    """Input (array of images) -> Error -> V1 (LCA) with a convolutional dictionary and its transpose."""

    def __init__(self, images: np.ndarray, weights: np.ndarray, lca: LCAParams, dictionary: DictionaryParams,
                 batch: int, display_period: int, normalize: str = "none", scale: float = 1.0,
                 error_scale: float = 1.0):
        images = np.asarray(images, dtype=np.float64)
        if images.ndim == 3:
            images = images[..., None]
        self.images = images
        self.fine_shape = images.shape[1:]
        self.coarse_shape = (lca.ny, lca.nx, lca.nf)
        if self.fine_shape[0] % lca.ny or self.fine_shape[0] // lca.ny != self.fine_shape[1] // lca.nx:
            raise ValueError("input and V1 sizes must differ by one integer stride")
        self.stride = self.fine_shape[0] // lca.ny
        self.lca = lca
        self.dictionary = dictionary
        self.batch = batch
        self.display_period = display_period
        self.normalize = normalize
        self.scale = scale
        self.error_scale = error_scale
        W = np.asarray(weights, dtype=np.float64).copy()
        if W.shape != (lca.nf, dictionary.patch, dictionary.patch, self.fine_shape[2]):
            raise ValueError(f"weights shape {W.shape}")
        if dictionary.normalize == "l2":
            W = normalize_l2(W, dictionary.strength)
        self.W = W
        self.velocity = np.zeros_like(W)

    # one function per equation, so tests can call them alone
    def T(self, u):
        p = self.lca
        return threshold(u, p.threshold, p.lam, p.width, p.a_min, p.a_max)

    def present(self, presentation: int):
        n = self.images.shape[0]
        items = np.array([(presentation * self.batch + b) % n for b in range(self.batch)])
        x = np.stack([normalize_image(self.images[i], self.normalize) * self.scale for i in items])
        return x, items

    def init_membrane(self):
        return np.full((self.batch,) + self.coarse_shape, float(self.lca.init_value))

    def integrate(self, u, drive, scale=None):
        """One membrane step; `scale` (one value per batch element) multiplies dt (an adaptive timestep)."""
        p = self.lca
        if scale is not None:
            dt = np.asarray(scale, dtype=np.float64).reshape((-1,) + (1,) * (u.ndim - 1)) * p.dt
            if p.integrator == "exponential":
                d = np.exp(-dt / p.tau)
                return d * u + (1.0 - d) * drive
            if p.integrator == "euler":
                return u + (np.minimum(dt, p.tau) / p.tau) * (drive - u)
        if p.integrator == "exponential":
            d = math.exp(-p.dt / p.tau)
            return d * u + (1.0 - d) * drive
        if p.integrator == "euler":
            return u + (p.dt / p.tau) * (drive - u)
        raise ValueError(f"unknown integrator {p.integrator!r}")

    def learn(self, a, e):
        d = self.dictionary
        dW = hebbian(a, e, d.patch, self.stride)
        if not np.any(dW):  # no evidence (all errors masked, or no activity): nothing changes
            return
        if d.momentum > 0:
            self.velocity = d.momentum * self.velocity + dW
            self.W = self.W + d.learning_rate * self.velocity
        else:
            self.W = self.W + d.learning_rate * dW
        if d.normalize == "l2":
            self.W = normalize_l2(self.W, d.strength)

    def run(self, steps: int, timescale: Optional[np.ndarray] = None) -> Trajectory:
        """`timescale` [steps, B]: step n of batch element b integrates with dt_b = timescale[n, b] dt."""
        p, dp = self.lca, self.display_period
        B = self.batch
        out = {k: [] for k in ("input", "error", "membrane", "activity", "ee", "se", "weights", "items")}
        x, items = self.present(0)
        u = self.init_membrane()
        a = self.T(u)  # a(-1)
        step = np.zeros_like(u)  # the previous membrane step (momentum), zero at the start and every reset
        for n in range(steps):
            if n > 0 and n % dp == 0:
                x, items = self.present(n // dp)
            if p.reset_on_input and n > 0 and n % dp == 0:  # before the error reads the code
                u = self.init_membrane()
                a = self.T(u)
                step = np.zeros_like(u)
            e = self.error_scale * (x - phi(self.W, a, self.fine_shape, self.stride))
            a_start = a  # the code e(n) was computed from: the Energy probe's LCA term
            drive = phi_t(self.W, e, self.coarse_shape, self.stride)
            if p.self_interaction:
                drive = drive + a
            plain = self.integrate(u, drive, None if timescale is None else timescale[n])
            if p.momentum > 0:  # heavy ball: the integrator's step plus momentum times the previous one
                step = (plain - u) + p.momentum * step
                u = u + step
            else:
                u = plain
            a = self.T(u)
            if self.dictionary.learning_rate > 0 and (n + 1) % dp == 0:
                self.learn(a, e)
            out["input"].append(x)
            out["error"].append(e)
            out["membrane"].append(u)
            out["activity"].append(a)
            out["ee"].append(0.5 * np.sum(e.reshape(B, -1) ** 2, axis=1))
            out["se"].append(np.sum(sparsity_cost(a_start, p.threshold, p.lam, p.width).reshape(B, -1), axis=1))
            out["weights"].append(self.W.copy())
            out["items"].append(items)
        return Trajectory(input=np.array(out["input"]), error=np.array(out["error"]),
                          membrane=np.array(out["membrane"]), activity=np.array(out["activity"]),
                          error_energy=np.array(out["ee"]), sparsity_energy=np.array(out["se"]),
                          weights=np.array(out["weights"]), items=np.array(out["items"]),
                          timescale=None if timescale is None else np.asarray(timescale[:steps], dtype=np.float64))


# --------------------------------------------------------------------------- the adaptive timestep

class AdaptiveTimescale:
    """The AdaptiveTimestep probe's controller (OpenPV's AdaptiveTimeScaleController), per batch element.

    ``reset()`` at the first step of every display period: s = base_min, cap = base_max, no energy known.
    ``advance(E)`` before every other step, E the newest energy (the Energy probe's sample of the step
    before), which resulted from the update made with ``previous`` (the timescale two steps back)::

        no energy known yet:                         s = base_min
        E == E_old:                                  s unchanged
        E > E_old, E_old <= 0, E <= 0 (or not finite): s = base_min, cap = base_max
        else: tau_eff = E_old * previous / (E_old - E);  s = tau_factor * tau_eff;
              if s >= cap: s = cap, cap = cap * (1 + growth_factor)

    then E_old = E, previous = the timescale before this step's, s the timescale of this step.
    """

    def __init__(self, batch: int, base_min=1.0, base_max=1.0, tau_factor=1.0, growth_factor=1.0):
        self.base_min, self.base_max = float(base_min), float(base_max)
        self.tau_factor, self.growth_factor = float(tau_factor), float(growth_factor)
        self.batch = batch
        self.reset()

    def reset(self):
        self.scale = [self.base_min] * self.batch
        self.previous = [self.base_min] * self.batch
        self.cap = [self.base_max] * self.batch
        self.energy = [None] * self.batch

    def advance(self, energy):
        for b in range(self.batch):
            e, old = float(energy[b]), self.energy[b]
            if not math.isfinite(e):
                nxt, self.cap[b], e = self.base_min, self.base_max, None
            elif old is None:
                nxt = self.base_min
            elif e == old:
                nxt = self.scale[b]
            elif e > old or old <= 0 or e <= 0:
                nxt, self.cap[b] = self.base_min, self.base_max
            else:
                tau_eff = old / ((old - e) / self.previous[b])
                nxt = self.tau_factor * tau_eff
                if nxt >= self.cap[b]:
                    nxt = self.cap[b]
                    self.cap[b] *= 1.0 + self.growth_factor
            self.energy[b] = e
            self.previous[b], self.scale[b] = self.scale[b], nxt

    def sequence(self, energy: np.ndarray, display_period: int) -> tuple[np.ndarray, np.ndarray]:
        """The timescale and cap of every step [steps, B] of a run whose Energy samples are `energy`."""
        scales, caps = [], []
        for n in range(energy.shape[0]):
            if n % display_period == 0:
                self.reset()
            else:
                self.advance(energy[n - 1])
            scales.append(list(self.scale))
            caps.append(list(self.cap))
        return np.array(scales), np.array(caps)
