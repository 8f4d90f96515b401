"""Unit tests of laminar.run (the HDF5 reader) and laminar.plots on a small file written here with
h5py in the layout `laminar run` writes."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from laminar import Run  # noqa: E402
from laminar import plots  # noqa: E402

PARAMS = """simulation:
  steps: 20
  display_period: 10
  batch_size: 2
layers:
  V1:
    type: LCA
    nf: 4
    lambda: 0.25
"""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_fake_run(d):
    rng = np.random.default_rng(0)
    with h5py.File(os.path.join(d, "laminar.h5"), "w") as f:
        f.attrs["params"] = PARAMS
        f.attrs["laminar_version"] = "0.1.0"
        g = f.create_group("probes/Energy")
        g.attrs["type"] = "Energy"
        g["step"] = np.arange(20, dtype=np.int64)
        g["Residual"] = np.linspace(10, 1, 40).reshape(20, 2)
        g["V1"] = np.full((20, 2), 0.5)
        g["energy"] = g["Residual"][:] + 0.5
        r = f.create_group("probes/V1Code")
        r.attrs["type"] = "ActivityRecorder"
        r.attrs["layer"] = "V1"
        r["step"] = np.array([9, 19], dtype=np.int64)
        r["data"] = (rng.standard_normal((2, 2, 5, 5, 4)) * (rng.random((2, 2, 5, 5, 4)) < 0.3)).astype(np.float32)
        w = f.create_group("probes/Tiles")
        w.attrs["type"] = "WeightRecorder"
        w["step"] = np.array([9, 19], dtype=np.int64)
        w["weights"] = rng.standard_normal((2, 4, 3, 3, 1)).astype(np.float32)
        e = f.create_group("probes/Empty")  # a recorder that never sampled
        e.attrs["type"] = "WeightRecorder"
        f["connections/Dictionary/final_weights"] = rng.standard_normal((4, 3, 3, 1)).astype(np.float32)


class RunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        write_fake_run(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_kernel_attributes(self):
        # As a WeightRecorder of a log-Gabor Convolution writes them: float64 arrays listed in kernel_attributes.
        theta, b = np.array([0.0, 0.0, 90.0, 90.0]), np.array([12.0, 12.0, 12.0, 12.0])
        with h5py.File(os.path.join(self.tmp.name, "laminar.h5"), "a") as f:
            g = f["probes/Tiles"]
            g.attrs["connection"] = "Dictionary"
            g.attrs["kernel_attributes"] = "theta0_deg,b_theta_deg"
            g.attrs["theta0_deg"], g.attrs["b_theta_deg"] = theta, b
        r = Run(self.tmp.name)
        for name in ("Tiles", "Dictionary"):  # the recorder, or its connection
            got = r.kernel_attributes(name)
            self.assertEqual(sorted(got), ["b_theta_deg", "theta0_deg"])
            np.testing.assert_array_equal(got["theta0_deg"], theta)
            np.testing.assert_array_equal(got["b_theta_deg"], b)
        self.assertNotIn("theta0_deg", r.probe("Tiles").attrs)  # arrays, not text attributes
        self.assertEqual(r.kernel_attributes("Empty"), {})
        with self.assertRaises(KeyError):
            r.kernel_attributes("Nothing")

    def test_reads_dir_or_file(self):
        a = Run(self.tmp.name)
        b = Run(os.path.join(self.tmp.name, "laminar.h5"))
        self.assertEqual(a.file, b.file)
        self.assertEqual(sorted(a.probes), ["Empty", "Energy", "Tiles", "V1Code"])

    def test_params(self):
        r = Run(self.tmp.name)
        self.assertEqual(r.display_period, 10)
        self.assertEqual(r.params["layers"]["V1"]["lambda"], 0.25)
        self.assertEqual(r.attrs["laminar_version"], "0.1.0")

    def test_probes(self):
        r = Run(self.tmp.name)
        en = r.energy_arrays()
        np.testing.assert_array_equal(en["step"], np.arange(20))
        np.testing.assert_allclose(en["energy"], en["Residual"] + 0.5)
        df = r.energy()  # long form, as Energy.csv: one row per step and batch element
        self.assertEqual(list(df.columns), ["step", "batch", "energy", "Residual", "V1"])
        np.testing.assert_array_equal(df["step"], np.repeat(np.arange(20), 2))
        np.testing.assert_allclose(df["energy"], en["energy"].reshape(-1))
        np.testing.assert_array_equal(r.activity("V1", steps=slice(10, None)), r.recorder("V1Code")[1][1:])
        np.testing.assert_array_equal(r.weights("Tiles"), r.weight_history("Tiles")[1][-1])
        self.assertEqual(r.probe("V1Code").attrs["layer"], "V1")
        steps, data = r.recorder("V1Code")
        self.assertEqual(data.shape, (2, 2, 5, 5, 4))
        np.testing.assert_array_equal(steps, [9, 19])
        steps, w = r.weight_history("Tiles")
        self.assertEqual(w.shape, (2, 4, 3, 3, 1))
        steps, w = r.weight_history("Empty")
        self.assertEqual(len(steps), 0)
        self.assertEqual(r.final_weights("Dictionary").shape, (4, 3, 3, 1))
        self.assertEqual(r.probes_of_type("WeightRecorder"), ["Empty", "Tiles"])
        with self.assertRaises(KeyError):
            r.probe("Nope")

    def test_missing(self):
        with self.assertRaises(FileNotFoundError):
            Run(os.path.join(self.tmp.name, "nothing-here"))


class PlotTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        write_fake_run(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def is_png(self, p):
        with open(p, "rb") as f:
            return f.read(8) == PNG_MAGIC

    def test_dictionary_image_tiles(self):
        w = np.zeros((5, 2, 3, 1))
        w[0, 0, 0, 0] = 2.0   # max of tile 0 -> white (1.0)
        w[0, 1, 2, 0] = -1.0  # -> 0.25
        w[3, 1, 1, 0] = -4.0  # min of tile 3 -> black
        img = plots.dictionary_image(w, columns=3, pad=1)
        self.assertEqual(img.shape, (2 * 3 + 1, 3 * 4 + 1))
        self.assertEqual(img[1, 1], 1.0)
        self.assertEqual(img[2, 3], 0.25)
        self.assertEqual(img[1, 2], 0.5)  # zero is mid-grey
        self.assertEqual(img[1 + 3 + 1, 1 + 0 * 4 + 1], 0.0)  # tile 3 = row 1, column 0
        self.assertTrue(np.all(img[0] == 1.0))  # padding
        rgb = plots.dictionary_image(np.random.default_rng(1).standard_normal((4, 3, 3, 3)))
        self.assertEqual(rgb.shape, (2 * 4 + 1, 2 * 4 + 1, 3))
        two = plots.dictionary_image(np.ones((1, 2, 2, 2)), pad=0)
        self.assertEqual(two.shape, (2, 4))  # features side by side

    def test_plots_write_pngs(self):
        r = Run(self.tmp.name)
        d = self.tmp.name
        for p in (plots.plot_energy(r, os.path.join(d, "e.png")),
                  plots.plot_dictionary(r.final_weights(), os.path.join(d, "w.png"), title="W"),
                  plots.plot_activity(r.recorder("V1Code")[1][-1], os.path.join(d, "a.png"))):
            self.assertTrue(self.is_png(p), p)

    def test_plot_module(self):
        out = os.path.join(self.tmp.name, "figs")
        env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        proc = subprocess.run([sys.executable, "-m", "laminar.plot", self.tmp.name, "--out", out],
                              capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for name in ("energy.png", "dictionary-Dictionary.png", "dictionary-Tiles.png", "activity-V1Code.png"):
            self.assertTrue(self.is_png(os.path.join(out, name)), name)
        proc = subprocess.run([sys.executable, "-m", "laminar.plot", os.path.join(self.tmp.name, "none")],
                              capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no Laminar output", proc.stderr)


if __name__ == "__main__":
    unittest.main()
