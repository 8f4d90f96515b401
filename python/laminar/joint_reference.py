"""A numpy reference of a linked multimodal joint LCA layer with per-batch-element masking.

Network (one joint code P1, one dictionary per modality m)::

    Input_m --Identity(+)--> Error_m <--Phi_m(-)-- P1 <--Phi_m^T(+)-- Error_m      (m = 1..M)

Per step n (inputs first, then every Error_m, then P1; learning after all layers)::

    x_m(n), present_m(n)       images and presence of modality m for each batch element
    e_m(n) = x_m(n) - Phi_m a(n-1),  then e_m(n)[b] = 0 where modality m is absent for element b
             (only for streams declared `masked`: an Error layer with `mask: Input_m`)
    drive  = sum_m Phi_m^T e_m(n) (+ a(n-1) with self_interaction)
    u(n), a(n) as in reference.py (exponential or forward Euler, threshold T)
    learn (n+1) % dp == 0: per modality, dW_m = mean_b sum_pos a(n) (x) e_m(n) (masked elements add 0);
             if dW_m == 0 everywhere the dictionary does not change at all; else W_m += eta dW_m
             (momentum as reference.py), then each kernel renormalised (normalize: l2)
    energy E(n) = sum_m 0.5 ||e_m(n)||^2 + sum lambda C(a(n-1))

Presence: an item is absent when its presence flag is 0 (a labels-CSV column) or, with
`absent_if_blank`, when its raw image is all zero. Built only from reference.py's phi, phi_t,
hebbian, normalize_l2, threshold and sparsity_cost.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from laminar import reference as ref


@dataclasses.dataclass
class Stream:
    images: np.ndarray                 # (N, ny, nx, nf)
    weights: np.ndarray                # (nk, patch_y, patch_x, nf); strides may differ per axis
    dictionary: ref.DictionaryParams
    present: Optional[np.ndarray] = None   # (N,) of 0/1 per item, or None: all present
    absent_if_blank: bool = False
    masked: bool = True                # the stream's Error layer has `mask: <its input>`


class JointNetwork:
    def __init__(self, streams: list[Stream], lca: ref.LCAParams, batch: int, display_period: int):
        self.streams = streams
        self.lca = lca
        self.batch = batch
        self.dp = display_period
        self.coarse = (lca.ny, lca.nx, lca.nf)
        self.W, self.V, self.stride, self.fine = [], [], [], []
        for s in streams:
            imgs = np.asarray(s.images, np.float64)
            if imgs.ndim == 3:
                imgs = imgs[..., None]
            s.images = imgs
            W = np.asarray(s.weights, np.float64).copy()
            if s.dictionary.normalize == "l2":
                W = ref.normalize_l2(W, s.dictionary.strength)
            self.W.append(W)
            self.V.append(np.zeros_like(W))
            self.stride.append((imgs.shape[1] // lca.ny, imgs.shape[2] // lca.nx))  # per axis
            self.fine.append(imgs.shape[1:])

    def present(self, presentation: int):
        out = []
        for s in self.streams:
            n = s.images.shape[0]
            items = [(presentation * self.batch + b) % n for b in range(self.batch)]
            x = np.stack([s.images[i] for i in items])
            here = np.ones(self.batch, bool)
            if s.present is not None:
                here &= np.asarray(s.present)[items].astype(bool)
            if s.absent_if_blank:
                here &= np.array([np.any(s.images[i] != 0) for i in items])
            out.append((x, here))
        return out

    def T(self, u):
        p = self.lca
        return ref.threshold(u, p.threshold, p.lam, p.width, p.a_min, p.a_max)

    def integrate(self, u, drive):
        p = self.lca
        if p.integrator == "exponential":
            d = math.exp(-p.dt / p.tau)
            return d * u + (1.0 - d) * drive
        return u + (p.dt / p.tau) * (drive - u)

    def learn(self, m: int, a, e):
        d = self.streams[m].dictionary
        dW = ref.hebbian(a, e, self.W[m].shape[1:3], self.stride[m])
        if not np.any(dW):
            return
        if d.momentum > 0:
            self.V[m] = d.momentum * self.V[m] + dW
            self.W[m] = self.W[m] + d.learning_rate * self.V[m]
        else:
            self.W[m] = self.W[m] + d.learning_rate * dW
        if d.normalize == "l2":
            self.W[m] = ref.normalize_l2(self.W[m], d.strength)

    def run(self, steps: int) -> dict:
        """Every step's buffers: errors[m], recon[m] (Phi_m a(n-1), the Error's inhibitory channel),
        membrane, activity, energy terms, weights[m] after each step, presence[m]."""
        p, B, M = self.lca, self.batch, len(self.streams)
        rec = {"error": [[] for _ in range(M)], "recon": [[] for _ in range(M)], "present": [[] for _ in range(M)],
               "weights": [[] for _ in range(M)], "error_energy": [[] for _ in range(M)],
               "membrane": [], "activity": [], "sparsity_energy": []}
        shown = self.present(0)
        u = np.full((B,) + self.coarse, float(p.init_value))
        a = self.T(u)
        for n in range(steps):
            if n > 0 and n % self.dp == 0:
                shown = self.present(n // self.dp)
                if p.reset_on_input:
                    u = np.full((B,) + self.coarse, float(p.init_value))
                    a = self.T(u)
            errors = []
            for m in range(M):
                x, here = shown[m]
                r = ref.phi(self.W[m], a, self.fine[m], self.stride[m])
                e = x - r
                if self.streams[m].masked:
                    e[~here] = 0.0
                errors.append(e)
                rec["recon"][m].append(r)
                rec["present"][m].append(here)
                rec["error"][m].append(e)
                rec["error_energy"][m].append(0.5 * np.sum(e.reshape(B, -1) ** 2, axis=1))
            rec["sparsity_energy"].append(
                np.sum(ref.sparsity_cost(a, p.threshold, p.lam, p.width).reshape(B, -1), axis=1))
            drive = sum(ref.phi_t(self.W[m], errors[m], self.coarse, self.stride[m]) for m in range(M))
            if p.self_interaction:
                drive = drive + a
            u = self.integrate(u, drive)
            a = self.T(u)
            if (n + 1) % self.dp == 0:
                for m in range(M):
                    if self.streams[m].dictionary.learning_rate > 0:
                        self.learn(m, a, errors[m])
            for m in range(M):
                rec["weights"][m].append(self.W[m].copy())
            rec["membrane"].append(u)
            rec["activity"].append(a)
        out = {k: (np.array(v) if k in ("membrane", "activity", "sparsity_energy") else [np.array(x) for x in v])
               for k, v in rec.items()}
        return out
