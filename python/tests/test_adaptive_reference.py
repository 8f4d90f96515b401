"""laminar.reference.AdaptiveTimescale (the numpy controller of the AdaptiveTimestep probe) on the energy
sequence worked by hand in tests/unit/test_adaptive_timestep.cpp, and LCANetwork.integrate with a timescale."""
import math
import unittest

import numpy as np

from laminar import reference as ref

NAN = float("nan")
ENERGY = [[100, 50], [90, 10], [80, 9], [85, 0], [85, NAN], [70, 5], [60, 4], [50, 3.9]]
SCALE = [[1, 1], [2, 0.625], [3, 2], [1, 1], [1, 1], [2, 1], [3, 2], [4.5, 3]]
CAP = [[2, 2], [3, 2], [4.5, 3], [2, 2], [2, 2], [3, 2], [4.5, 3], [6.75, 4.5]]


class AdaptiveTimescaleTest(unittest.TestCase):
    def controller(self):
        return ref.AdaptiveTimescale(2, base_min=1, base_max=2, tau_factor=0.5, growth_factor=0.5)

    def test_hand_computed_sequence(self):
        c = self.controller()
        for e, s, cap in zip(ENERGY, SCALE, CAP):
            c.advance(e)
            np.testing.assert_allclose(c.scale, s, rtol=1e-12)
            np.testing.assert_allclose(c.cap, cap, rtol=1e-12)

    def test_sequence_resets_every_display_period(self):
        energy = np.array([[10.0], [9.0], [8.0], [7.0], [10.0], [9.0], [8.0]])
        s, cap = ref.AdaptiveTimescale(1, base_min=1, base_max=2, tau_factor=1, growth_factor=1).sequence(energy, 4)
        # steps 0 and 4 reset; steps 1 and 5 see their period's first energy; then 10 -> 9 (tau_eff 10) hits the cap
        self.assertEqual(s[:, 0].tolist(), [1, 1, 2, 4, 1, 1, 2])
        self.assertEqual(cap[:, 0].tolist(), [2, 2, 4, 8, 2, 2, 4])

    def test_integrate_with_a_timescale(self):
        images = np.zeros((2, 4, 4, 1))
        for integrator in ("exponential", "euler"):
            net = ref.LCANetwork(images, np.ones((2, 2, 2, 1)), ref.LCAParams(nx=2, ny=2, nf=2, tau=4.0,
                                                                              integrator=integrator),
                                 ref.DictionaryParams(patch=2), batch=2, display_period=5)
            u, drive = np.full((2, 2, 2, 2), 0.5), np.full((2, 2, 2, 2), 2.0)
            np.testing.assert_allclose(net.integrate(u, drive, [1.0, 1.0]), net.integrate(u, drive), rtol=1e-15)
            got = net.integrate(u, drive, [2.0, 10.0])
            if integrator == "exponential":
                for b, s in enumerate((2.0, 10.0)):
                    d = math.exp(-s / 4.0)
                    np.testing.assert_allclose(got[b], d * 0.5 + (1 - d) * 2.0, rtol=1e-15)
            else:  # dt_b = 10 > tau: clamped to a rate of 1
                np.testing.assert_allclose(got[0], 0.5 + 0.5 * 1.5, rtol=1e-15)
                np.testing.assert_allclose(got[1], 2.0, rtol=1e-15)


if __name__ == "__main__":
    unittest.main()
