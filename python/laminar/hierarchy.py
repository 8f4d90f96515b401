"""A plain numpy reference of a hierarchical (stacked) LCA network with top-down feedback, written
from the seed paper's section 3.3 (eq. 3-5); the convolution, threshold and integrator helpers
come from laminar.reference.

Network with L levels (k = 1..L; level 1 codes the image)::

    Input --Identity(+)--> E1 <--Phi1(-)-- V1 <--Phi1^T(+)-- E1
    V1.membrane --Identity(+)--> E2 <--Phi2(-)-- V2 <--Phi2^T(+)-- E2      (and so on up to V_L)
    E2 --Feedback(-, strength f1)--> V1                                    (optional, per level)

so that::

    e_1 = x - Phi_1 a_1,        e_k = u_{k-1} - Phi_k a_k  (k > 1)                       (eq. 4)
    tau du_k/dt = -u_k + Phi_k^T e_k + a_k - f_k e_{k+1}     (f_L = 0, no level above)   (eq. 3, 5)
    a_k = T_lambda_k(u_k)

Time step n, in the order the schedule takes (a stateful layer is read as it is when the reader
runs: this step's value if it has already updated, else the previous step's)::

    Input:  x(n) (new images when n % display_period == 0), resets (reset_on) before any error
    for k = 1..L:
        if k > 1 and level k-1 has no feedback: update V_{k-1} now (it needs only e_{k-1}(n)),
            so e_k reads u_{k-1}(n) (this step)
        e_k(n) = input_k - Phi_k a_k(n-1)      input_1 = x(n); input_k = u_{k-1}(n) or u_{k-1}(n-1)
        if k > 1 and level k-1 has feedback: update V_{k-1} from e_{k-1}(n) and e_k(n)
            (its error e_k was computed from u_{k-1}(n-1): the loop V_{k-1} -> E_k -> V_{k-1}
            is broken at the LCA layer)
    update V_L from e_L(n)
    V_k update: drive = Phi_k^T e_k(n) - f_k e_{k+1}(n) (+ a_k(n-1) with self_interaction);
                u_k(n) = d u_k(n-1) + (1 - d) drive (exponential) or forward Euler; a_k(n) = T(u_k(n))

Energy (what the Energy probe sums): E(n) = sum_k 0.5 ||e_k(n)||^2 + lambda_k sum C(a_k at the
start of step n), the hierarchical objective of eq. 2 applied at every level with level k > 1
reconstructing the membrane u_{k-1}.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np

from laminar import reference as ref


@dataclasses.dataclass
class Level:
    lca: ref.LCAParams          # V_k (nx, ny, nf, tau, lambda, threshold, ...)
    weights: np.ndarray         # Phi_k: [nf_k, patch, patch, nf of the level below (or the input)]
    feedback: Optional[float] = None  # strength of E_{k+1} -> V_k (None: no Feedback connection)


@dataclasses.dataclass
class HierarchyTrajectory:
    """Per step n (index n): lists over levels of [steps, B, ny, nx, nf] arrays, and energies [steps, B]."""
    error: list
    membrane: list
    activity: list
    error_energy: list      # per level 0.5||e_k(n)||^2
    sparsity_energy: list   # per level lambda_k sum C(a_k(n-1))

    @property
    def energy(self) -> np.ndarray:
        return sum(self.error_energy) + sum(self.sparsity_energy)


class Hierarchy:
    def __init__(self, images: np.ndarray, levels: Sequence[Level], batch: int, display_period: int,
                 normalize: str = "none"):
        images = np.asarray(images, dtype=np.float64)
        if images.ndim == 3:
            images = images[..., None]
        self.images, self.levels = images, list(levels)
        self.batch, self.display_period, self.normalize = batch, display_period, normalize
        self.shapes, self.strides, self.W = [], [], []
        below = images.shape[1:]
        for lv in self.levels:
            p = lv.lca
            shape = (p.ny, p.nx, p.nf)
            if below[0] % p.ny or below[0] // p.ny != below[1] // p.nx:
                raise ValueError(f"level sizes {below} -> {shape} do not differ by one integer stride")
            W = np.asarray(lv.weights, dtype=np.float64)
            if W.shape[0] != p.nf or W.shape[3] != below[2]:
                raise ValueError(f"weights {W.shape} do not fit {shape} over {below}")
            self.shapes.append(shape)
            self.strides.append(below[0] // p.ny)
            self.W.append(W)
            below = shape
        if self.levels and self.levels[-1].feedback is not None:
            raise ValueError("the top level has no error above it to feed back")

    def T(self, k, u):
        p = self.levels[k].lca
        return ref.threshold(u, p.threshold, p.lam, p.width, p.a_min, p.a_max)

    def fine_shape(self, k):
        return self.images.shape[1:] if k == 0 else self.shapes[k - 1]

    def present(self, presentation: int):
        n = self.images.shape[0]
        items = [(presentation * self.batch + b) % n for b in range(self.batch)]
        return np.stack([ref.normalize_image(self.images[i], self.normalize) for i in items])

    def init_membrane(self, k):
        return np.full((self.batch,) + self.shapes[k], float(self.levels[k].lca.init_value))

    def integrate(self, k, u, drive):
        p = self.levels[k].lca
        if p.integrator == "exponential":
            d = math.exp(-p.dt / p.tau)
            return d * u + (1.0 - d) * drive
        return u + (p.dt / p.tau) * (drive - u)

    def run(self, steps: int) -> HierarchyTrajectory:
        L, B, dp = len(self.levels), self.batch, self.display_period
        x = self.present(0)
        u = [self.init_membrane(k) for k in range(L)]
        a = [self.T(k, u[k]) for k in range(L)]
        hist = {key: [[] for _ in range(L)] for key in ("e", "u", "a", "ee", "se")}
        for n in range(steps):
            if n > 0 and n % dp == 0:
                x = self.present(n // dp)
                for k in range(L):
                    if self.levels[k].lca.reset_on_input:
                        u[k] = self.init_membrane(k)
                        a[k] = self.T(k, u[k])
            a_start = list(a)
            e = [None] * L

            def update(k):
                p = self.levels[k].lca
                drive = ref.phi_t(self.W[k], e[k], self.shapes[k], self.strides[k])
                if self.levels[k].feedback is not None:
                    drive = drive - self.levels[k].feedback * e[k + 1]
                if p.self_interaction:
                    drive = drive + a[k]
                u[k] = self.integrate(k, u[k], drive)
                a[k] = self.T(k, u[k])

            for k in range(L):
                if k > 0 and self.levels[k - 1].feedback is None:
                    update(k - 1)
                below = x if k == 0 else u[k - 1]
                e[k] = below - ref.phi(self.W[k], a[k], self.fine_shape(k), self.strides[k])
                if k > 0 and self.levels[k - 1].feedback is not None:
                    update(k - 1)
            update(L - 1)
            for k in range(L):
                p = self.levels[k].lca
                hist["e"][k].append(e[k])
                hist["u"][k].append(u[k])
                hist["a"][k].append(a[k])
                hist["ee"][k].append(0.5 * np.sum(e[k].reshape(B, -1) ** 2, axis=1))
                hist["se"][k].append(np.sum(ref.sparsity_cost(a_start[k], p.threshold, p.lam, p.width)
                                            .reshape(B, -1), axis=1))
        arr = {key: [np.array(v) for v in vals] for key, vals in hist.items()}
        return HierarchyTrajectory(error=arr["e"], membrane=arr["u"], activity=arr["a"],
                                   error_energy=arr["ee"], sparsity_energy=arr["se"])


def lasso_kkt_violation(u_in: np.ndarray, W: np.ndarray, a: np.ndarray, stride: int, lam: float,
                        bias: Optional[np.ndarray] = None, nonneg: bool = False) -> float:
    """Largest violation of the optimality conditions of
        min_a 0.5 ||u_in - Phi a||^2 + lam |a|_1 + <bias, a>        (a >= 0 when nonneg)
    i.e. g = Phi^T (u_in - Phi a) - bias must equal lam sign(a) where a != 0 and satisfy |g| <= lam
    (g <= lam when nonneg) where a == 0.  A fixed point of eq. 5 with soft thresholds satisfies
    them with bias = strength * e_{k+1} (the fed-back error at the fixed point)."""
    coarse = a.shape[1:]
    g = ref.phi_t(W, u_in - ref.phi(W, a, u_in.shape[1:], stride), coarse, stride)
    if bias is not None:
        g = g - bias
    active = a != 0
    on = np.abs(g - lam * np.sign(a))[active]
    off = (np.maximum(g - lam, 0.0) if nonneg else np.maximum(np.abs(g) - lam, 0.0))[~active]
    return float(max(on.max(initial=0.0), off.max(initial=0.0)))
