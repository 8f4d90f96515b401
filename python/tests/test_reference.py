"""Unit tests of laminar.reference against naive loops written straight from the definitions."""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from laminar import reference as ref  # noqa: E402


def covered(cy, py, s, p):
    """Fine index of tap py of coarse neuron cy: cy*s + offset + py, offset = -floor((p - s)/2)."""
    return cy * s - math.floor((p - s) / 2) + py


def naive_phi(W, a, fine_shape, s):
    B, ncy, ncx, nk = a.shape
    p = W.shape[1]
    out = np.zeros((B,) + tuple(fine_shape))
    for b in range(B):
        for cy in range(ncy):
            for cx in range(ncx):
                for k in range(nk):
                    for py in range(p):
                        for px in range(p):
                            y, x = covered(cy, py, s, p), covered(cx, px, s, p)
                            if 0 <= y < fine_shape[0] and 0 <= x < fine_shape[1]:
                                out[b, y, x, :] += W[k, py, px, :] * a[b, cy, cx, k]
    return out


def naive_phi_t(W, e, coarse_shape, s):
    B = e.shape[0]
    ncy, ncx, nk = coarse_shape
    p = W.shape[1]
    out = np.zeros((B, ncy, ncx, nk))
    for b in range(B):
        for cy in range(ncy):
            for cx in range(ncx):
                for k in range(nk):
                    acc = 0.0
                    for py in range(p):
                        for px in range(p):
                            y, x = covered(cy, py, s, p), covered(cx, px, s, p)
                            if 0 <= y < e.shape[1] and 0 <= x < e.shape[2]:
                                acc += np.dot(W[k, py, px, :], e[b, y, x, :])
                    out[b, cy, cx, k] = acc
    return out


def naive_hebbian(a, e, p, s):
    B, ncy, ncx, nk = a.shape
    dW = np.zeros((nk, p, p, e.shape[3]))
    for k in range(nk):
        for py in range(p):
            for px in range(p):
                for b in range(B):
                    for cy in range(ncy):
                        for cx in range(ncx):
                            y, x = covered(cy, py, s, p), covered(cx, px, s, p)
                            if 0 <= y < e.shape[1] and 0 <= x < e.shape[2]:
                                dW[k, py, px, :] += a[b, cy, cx, k] * e[b, y, x, :] / B
    return dW


# (coarse ny, nx, nk), stride, patch, fine nf
GEOMETRIES = [((5, 4, 3), 1, 3, 2), ((4, 4, 2), 2, 4, 1), ((3, 5, 3), 2, 5, 2), ((3, 3, 2), 3, 3, 3),
              ((2, 3, 2), 2, 2, 1), ((4, 4, 2), 1, 4, 1), ((2, 2, 2), 2, 7, 1)]


class ConvTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(7)

    def cases(self):
        for coarse, s, p, nf in GEOMETRIES:
            fine = (coarse[0] * s, coarse[1] * s, nf)
            W = self.rng.standard_normal((coarse[2], p, p, nf))
            a = self.rng.standard_normal((2,) + coarse) * (self.rng.random((2,) + coarse) < 0.6)
            e = self.rng.standard_normal((2,) + fine)
            yield coarse, fine, s, p, W, a, e

    def test_offset(self):
        self.assertEqual(ref.conv_offset(8, 2), -3)
        self.assertEqual(ref.conv_offset(5, 2), -1)
        self.assertEqual(ref.conv_offset(5, 1), -2)
        self.assertEqual(ref.conv_offset(4, 1), -1)
        self.assertEqual(ref.conv_offset(2, 2), 0)

    def test_phi_matches_naive_loops(self):
        for coarse, fine, s, p, W, a, e in self.cases():
            with self.subTest(coarse=coarse, stride=s, patch=p):
                np.testing.assert_allclose(ref.phi(W, a, fine, s), naive_phi(W, a, fine, s), rtol=1e-12, atol=1e-12)

    def test_phi_t_matches_naive_loops(self):
        for coarse, fine, s, p, W, a, e in self.cases():
            with self.subTest(coarse=coarse, stride=s, patch=p):
                np.testing.assert_allclose(ref.phi_t(W, e, coarse, s), naive_phi_t(W, e, coarse, s),
                                           rtol=1e-12, atol=1e-12)

    def test_adjoint(self):
        for coarse, fine, s, p, W, a, e in self.cases():
            lhs = np.sum(ref.phi(W, a, fine, s) * e)
            rhs = np.sum(a * ref.phi_t(W, e, coarse, s))
            self.assertAlmostEqual(lhs, rhs, places=10)

    def test_hebbian_matches_naive_loops(self):
        for coarse, fine, s, p, W, a, e in self.cases():
            with self.subTest(coarse=coarse, stride=s, patch=p):
                np.testing.assert_allclose(ref.hebbian(a, e, p, s), naive_hebbian(a, e, p, s), rtol=1e-12, atol=1e-12)

    def test_hebbian_is_minus_gradient_of_reconstruction_error(self):
        # d/dW mean_b 0.5||x - Phi a||^2 = -dW with e = x - Phi a (central differences; exact for a quadratic)
        coarse, s, p, nf = (3, 3, 2), 2, 4, 2
        fine = (6, 6, nf)
        W = self.rng.standard_normal((2, p, p, nf))
        a = self.rng.standard_normal((3,) + coarse)
        x = self.rng.standard_normal((3,) + fine)
        f = lambda W: 0.5 * np.sum((x - ref.phi(W, a, fine, s)) ** 2) / 3
        dW = ref.hebbian(a, x - ref.phi(W, a, fine, s), p, s)
        h = 1e-4
        for idx in [(0, 0, 0, 0), (1, 3, 2, 1), (0, 1, 3, 0), (1, 2, 2, 1)]:
            Wp, Wm = W.copy(), W.copy()
            Wp[idx] += h
            Wm[idx] -= h
            self.assertAlmostEqual((f(Wp) - f(Wm)) / (2 * h), -dW[idx], places=6)

    def test_zero_padding_at_borders(self):
        # a single active corner unit reconstructs only the in-grid part of its kernel
        W = np.arange(1, 26, dtype=float).reshape(1, 5, 5, 1)
        a = np.zeros((1, 4, 4, 1))
        a[0, 0, 0, 0] = 1.0
        r = ref.phi(W, a, (4, 4, 1), 1)[0, :, :, 0]
        np.testing.assert_array_equal(r[:3, :3], W[0, 2:, 2:, 0])  # offset -2: taps 2..4 land on 0..2
        self.assertEqual(np.count_nonzero(r), 9)

    def test_normalize_l2(self):
        W = self.rng.standard_normal((4, 3, 3, 2))
        W[2] = 0
        N = ref.normalize_l2(W, 2.0)
        norms = np.sqrt(np.sum(N ** 2, axis=(1, 2, 3)))
        np.testing.assert_allclose(norms[[0, 1, 3]], 2.0)
        self.assertEqual(norms[2], 0.0)
        np.testing.assert_allclose(N[0] / np.linalg.norm(N[0]), W[0] / np.linalg.norm(W[0]))


class ThresholdTest(unittest.TestCase):
    u = np.array([-2.0, -0.6, -0.5, -0.3, 0.0, 0.3, 0.5, 0.55, 0.7, 0.9, 2.0])

    def test_soft(self):
        np.testing.assert_allclose(ref.threshold(self.u, "soft", 0.5),
                                   [-1.5, -0.1, 0, 0, 0, 0, 0, 0.05, 0.2, 0.4, 1.5], atol=1e-15)

    def test_soft_nonneg(self):
        np.testing.assert_allclose(ref.threshold(self.u, "soft_nonneg", 0.5),
                                   [0, 0, 0, 0, 0, 0, 0, 0.05, 0.2, 0.4, 1.5], atol=1e-15)

    def test_hard(self):
        np.testing.assert_allclose(ref.threshold(self.u, "hard", 0.5),
                                   [-2.0, -0.6, 0, 0, 0, 0, 0, 0.55, 0.7, 0.9, 2.0])

    def test_firm(self):
        # lam 0.5, width 0.2: 0 up to 0.5, u from 0.7, in between (|u| - 0.5) * 0.7 / 0.2
        a = ref.threshold(self.u, "firm", 0.5, 0.2)
        np.testing.assert_allclose(a, [-2.0, -0.35, 0, 0, 0, 0, 0, 0.175, 0.7, 0.9, 2.0], atol=1e-15)
        # continuous at both breaks
        for b in (0.5, 0.7):
            lo, hi = ref.threshold(np.array([b - 1e-9, b + 1e-9]), "firm", 0.5, 0.2)
            self.assertAlmostEqual(lo, hi, places=7)

    def test_clamps(self):
        a = ref.threshold(self.u, "soft", 0.5, a_min=-1.0, a_max=0.3)
        self.assertEqual(a.min(), -1.0)
        self.assertEqual(a.max(), 0.3)

    def test_costs_are_consistent_with_thresholds(self):
        # on the active set, u - a = dC/da (lambda C' in Laminar's convention), for soft and firm
        lam, w = 0.5, 0.4
        u = np.linspace(0.51, 3.0, 50)
        for kind in ("soft", "firm"):
            a = ref.threshold(u, kind, lam, w)
            h = 1e-6
            dC = (ref.sparsity_cost(a + h, kind, lam, w) - ref.sparsity_cost(a - h, kind, lam, w)) / (2 * h)
            inside = a < lam + w - 1e-3 if kind == "firm" else a > 0
            np.testing.assert_allclose((u - a)[inside], dC[inside], atol=1e-6)

    def test_cost_values(self):
        a = np.array([0.0, 0.2, -1.0])
        np.testing.assert_allclose(ref.sparsity_cost(a, "soft", 0.4), [0, 0.08, 0.4])
        np.testing.assert_allclose(ref.sparsity_cost(a, "hard", 0.4), [0, 0.08, 0.08])
        t = 0.4 + 0.2
        np.testing.assert_allclose(ref.sparsity_cost(a, "firm", 0.4, 0.2), [0, 0.4 * 0.2 * (1 - 0.2 / (2 * t)), 0.4 * t / 2])


class NetworkTest(unittest.TestCase):
    def make(self, **kw):
        rng = np.random.default_rng(3)
        images = rng.standard_normal((4, 8, 8, 1))
        W = rng.standard_normal((3, 4, 4, 1))
        kw = dict(dict(tau=10.0, lam=0.3), **kw)
        lca = ref.LCAParams(nx=4, ny=4, nf=3, **kw)
        return ref.LCANetwork(images, W, lca, ref.DictionaryParams(patch=4), batch=2, display_period=50)

    def test_energy_non_increasing_within_display_period(self):
        tr = self.make().run(100)
        for start in (0, 50):
            E = tr.energy[start + 1:start + 50]
            self.assertTrue(np.all(np.diff(E, axis=0) <= 1e-12), np.max(np.diff(E, axis=0)))

    def test_first_steps_by_hand(self):
        # step 0 with u(0) = 0: e = x, u = (1 - exp(-dt/tau)) Phi^T x; step 1: e = x - Phi T(u)
        net = self.make()
        x, _ = net.present(0)
        tr = net.run(2)
        d = math.exp(-0.1)
        np.testing.assert_allclose(tr.error[0], x)
        u0 = (1 - d) * ref.phi_t(net.W, x, (4, 4, 3), 2)
        np.testing.assert_allclose(tr.membrane[0], u0)
        a0 = ref.threshold(u0, "soft", 0.3)
        e1 = x - ref.phi(net.W, a0, (8, 8, 1), 2)
        np.testing.assert_allclose(tr.error[1], e1)
        np.testing.assert_allclose(tr.membrane[1], d * u0 + (1 - d) * (ref.phi_t(net.W, e1, (4, 4, 3), 2) + a0))

    def test_euler_and_exponential_agree_for_small_steps(self):
        a = self.make(dt=0.01, tau=1.0).run(30).membrane[-1]
        b = self.make(dt=0.01, tau=1.0, integrator="euler").run(30).membrane[-1]
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=1e-3)

    def test_presentation_wraps(self):
        tr = self.make().run(120)
        np.testing.assert_array_equal(tr.items[0], [0, 1])
        np.testing.assert_array_equal(tr.items[60], [2, 3])
        np.testing.assert_array_equal(tr.items[110], [0, 1])


if __name__ == "__main__":
    unittest.main()
