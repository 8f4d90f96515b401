"""python.api: laminar.run / laminar.check / Run against the real executable.

usage: api_test.py [LAMINAR]   (else $LAMINAR_EXECUTABLE)

A small network (the one of tests/restart) given as a dict, on images made here with numpy, run with
laminar.run; what Run reads (energy as a DataFrame, activity by range, xarray, weights, params) is
compared with the HDF5 file read directly; bad params, a used output folder and progress reports.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import laminar  # noqa: E402
from laminar import LaminarError, Run  # noqa: E402

EXE = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else os.environ.get("LAMINAR_EXECUTABLE")


def network(data, steps=100):
    return {
        "simulation": {"steps": steps, "display_period": 25, "batch_size": 2, "seed": 5},
        "layers": {
            "Input": {"type": "ImageInput", "path": data, "shuffle": True, "normalize": "standardize"},
            "E": {"type": "Error"},
            "V1": {"type": "LCA", "nx": 6, "ny": 6, "nf": 4, "tau": 20, "lambda": np.float32(0.1),
                   "init_membrane": "uniform", "reset_on": "Input"},
        },
        "connections": {
            "I": {"type": "Identity", "pre": "Input", "post": "E"},
            "D": {"type": "Convolution", "pre": "V1", "post": "E", "channel": "inhibitory", "patch_size": 4,
                  "learning_rate": 0.05, "momentum": 0.5},
            "T": {"type": "Transpose", "original": "D", "pre": "E", "post": "V1"},
        },
        "probes": {
            "Energy": {"type": "Energy"},
            "Stats": {"type": "Stats", "layer": "V1"},
            "Rec": {"type": "ActivityRecorder", "layer": "V1", "period": 25},
            "W": {"type": "WeightRecorder", "connection": "D", "period": 50},
        },
    }


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not EXE:
            raise unittest.SkipTest("no laminar executable (argument or LAMINAR_EXECUTABLE)")
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="laminar-api-")
        cls.tmp = cls.tmpdir.name
        cls.data = os.path.join(cls.tmp, "x.h5")
        with h5py.File(cls.data, "w") as f:
            f["images"] = np.random.default_rng(3).standard_normal((7, 12, 12, 1)).astype(np.float32)
        cls.out = os.path.join(cls.tmp, "out")
        cls.result = laminar.run(network(cls.data, steps=80), output=cls.out, executable=EXE,
                              set={"simulation.steps": 100})
        cls.h5 = os.path.join(cls.out, "laminar.h5")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def test_params_written_and_read(self):
        self.assertTrue(os.path.isfile(os.path.join(self.out, laminar.api.PARAMS_INPUT)))
        p = self.result.params
        self.assertEqual(p["simulation"]["steps"], 100)  # the --set won over the dict
        self.assertAlmostEqual(p["layers"]["V1"]["lambda"], 0.1, places=6)
        self.assertEqual(p["probes"]["Rec"]["type"], "ActivityRecorder")
        self.assertEqual(self.result.version, laminar.__version__)
        self.assertIsInstance(self.result.meta["mpi_ranks"], int)  # numbers, stored as text or as numbers

    def test_energy_dataframe(self):
        df = self.result.energy()
        self.assertEqual(list(df.columns[:3]), ["step", "batch", "energy"])
        self.assertIn("E", df.columns)
        self.assertIn("V1", df.columns)
        with h5py.File(self.h5) as f:
            g = f["probes/Energy"]
            np.testing.assert_array_equal(df["energy"].to_numpy(), g["energy"][()].reshape(-1))
            np.testing.assert_array_equal(df["V1"].to_numpy(), g["V1"][()].reshape(-1))
            np.testing.assert_array_equal(df["step"].to_numpy(), np.repeat(g["step"][()], 2))
        np.testing.assert_array_equal(df["batch"].to_numpy()[:4], [0, 1, 0, 1])
        part = self.result.energy(steps=slice(10, 20))
        self.assertEqual(sorted(set(part["step"])), list(range(10, 20)))
        np.testing.assert_array_equal(part["energy"].to_numpy(), df["energy"].to_numpy()[20:40])
        stats = self.result.table("Stats")
        self.assertEqual(list(stats.columns[:2]), ["step", "batch"])
        self.assertIn("fraction_nonzero", stats.columns)

    def test_activity_by_range(self):
        with h5py.File(self.h5) as f:
            data, step = f["probes/Rec/data"][()], f["probes/Rec/step"][()]
        np.testing.assert_array_equal(step, [24, 49, 74, 99])
        np.testing.assert_array_equal(self.result.activity("Rec"), data)
        np.testing.assert_array_equal(self.result.activity("V1", steps=slice(25, 75)), data[1:3])  # by layer
        np.testing.assert_array_equal(self.result.activity("V1", steps=74), data[2])
        np.testing.assert_array_equal(self.result.activity("Rec", samples=slice(-2, None)), data[2:])
        np.testing.assert_array_equal(self.result.activity("Rec", steps=[24, 99]), data[[0, 3]])
        with self.assertRaises(KeyError):
            self.result.activity("Rec", steps=50)  # no sample at step 50
        self.assertEqual(self.result.probe("Rec").shapes["data"], (4, 2, 6, 6, 4))  # shapes without reading

    def test_xarray(self):
        try:
            import xarray  # noqa: F401
        except ImportError:
            self.skipTest("xarray not installed (Debian: python3-xarray)")
        with h5py.File(self.h5) as f:
            data = f["probes/Rec/data"][()]
            energy = f["probes/Energy/energy"][()]
        one = self.result.to_xarray("V1")
        self.assertEqual(one["data"].dims, ("step", "batch", "y", "x", "feature"))
        np.testing.assert_array_equal(one["data"].sel(step=49).values, data[1])
        ds = self.result.to_xarray()
        self.assertEqual(ds["Rec"].dims, ("Rec_step", "batch", "Rec_y", "Rec_x", "Rec_feature"))
        np.testing.assert_array_equal(ds["Rec"].values, data)
        np.testing.assert_array_equal(ds["Energy_energy"].values, energy)
        self.assertEqual(ds["W"].dims[0], "W_step")
        self.assertIn("D_final_weights", ds)

    def test_weights(self):
        with h5py.File(self.h5) as f:
            final = f["connections/D/final_weights"][()]
            hist = f["probes/W/weights"][()]
        np.testing.assert_array_equal(self.result.weights("D"), final)
        np.testing.assert_array_equal(self.result.weights("W", 0), hist[0])
        np.testing.assert_array_equal(self.result.weights("D", 0), hist[0])
        np.testing.assert_array_equal(self.result.final_weights("D"), final)

    def test_check(self):
        info = laminar.check(network(self.data), executable=EXE, set=["layers.V1.nf=8"])
        self.assertTrue(info["ok"])
        self.assertEqual(info["layers"]["V1"], {"type": "LCA", "ny": 6, "nx": 6, "nf": 8, "images": None,
                                                "summary": None})
        self.assertEqual(info["layers"]["Input"]["images"], 7)
        self.assertEqual(info["connections"]["D"]["weights"], (8, 4, 4, 1))
        self.assertTrue(info["connections"]["D"]["learning"])
        self.assertEqual(info["connections"]["T"]["pre"], "E")
        self.assertEqual(info["probes"]["Rec"], {"type": "ActivityRecorder"})
        self.assertGreater(info["memory"]["per_process_bytes"], 0)
        self.assertTrue(any(i["object"] == "layers.V1" for i in info["memory"]["items"]))
        self.assertIn("Each step", info["schedule"])
        self.assertEqual(info["simulation"]["batch_size"], 2)

    def test_bad_key(self):
        net = network(self.data)
        net["layers"]["V1"]["lamda"] = 0.1
        out = os.path.join(self.tmp, "bad")
        with self.assertRaises(LaminarError) as cm:
            laminar.run(net, output=out, executable=EXE)
        e = cm.exception
        self.assertIsInstance(e, RuntimeError)
        self.assertEqual(e.returncode, 2)
        self.assertIn("layers.V1.lamda", e.message)
        self.assertIn("layers.V1.lamda", str(e))
        with open(os.path.join(out, laminar.api.PARAMS_INPUT)) as f:
            lines = f.read().splitlines()
        self.assertIsNotNone(e.line, e.message)
        self.assertIn("lamda", lines[e.line - 1])  # the line named is the key's line
        self.assertIn(f":{e.line}:", e.message)
        with self.assertRaises(LaminarError) as cm:
            laminar.check(net, executable=EXE)
        self.assertIn("layers.V1.lamda", cm.exception.message)
        with self.assertRaises(LaminarError) as cm:
            laminar.check(network(self.data), set={"layers.V2.nf": 3}, executable=EXE)
        self.assertIn("V2", cm.exception.message)

    def test_used_folder_refused(self):
        out = os.path.join(self.tmp, "twice")
        net = network(self.data, steps=30)
        laminar.run(net, output=out, executable=EXE)
        with open(os.path.join(out, laminar.api.PARAMS_INPUT)) as f:
            first = f.read()
        net["layers"]["V1"]["lambda"] = 0.2
        with self.assertRaises(LaminarError) as cm:
            laminar.run(net, output=out, executable=EXE)
        self.assertIn("--overwrite", cm.exception.message)
        with open(os.path.join(out, laminar.api.PARAMS_INPUT)) as f:
            self.assertEqual(f.read(), first)  # the refused run left the first run's params
        self.assertEqual(sorted(n for n in os.listdir(out) if n.startswith(".params")), [])
        r = laminar.run(net, output=out, executable=EXE, overwrite=True)
        self.assertAlmostEqual(r.params["layers"]["V1"]["lambda"], 0.2)

    def test_progress(self):
        help_text = subprocess.run([EXE, "run", "--help"], capture_output=True, text=True).stdout
        seen = []
        out = os.path.join(self.tmp, "progress")
        if "--progress" not in help_text:
            print("python.api: this laminar has no --progress; checking only that progress= fails clearly")
            with self.assertRaises(LaminarError) as cm:
                laminar.run(network(self.data, steps=30), output=out, executable=EXE, progress=seen.append)
            self.assertIn("--progress", cm.exception.message)
            return
        r = laminar.run(network(self.data), output=out, executable=EXE, progress=seen.append)
        self.assertTrue(seen, "no progress reports")
        for d in seen:
            self.assertIsInstance(d, dict)
            for k in ("step", "steps", "rate", "eta_s", "energy"):
                self.assertIn(k, d)
        self.assertEqual(seen[-1]["step"], 100)
        self.assertEqual(seen[-1]["steps"], 100)
        self.assertEqual(len(r.energy()), 200)

    def test_errors_without_output_or_executable(self):
        with self.assertRaises(LaminarError) as cm:
            laminar.run(network(self.data), executable=EXE)
        self.assertIn("output", cm.exception.message)
        with self.assertRaises(LaminarError):
            laminar.find_executable(os.path.join(self.tmp, "no-such-laminar"))
        old = os.environ.get("LAMINAR_EXECUTABLE")
        os.environ["LAMINAR_EXECUTABLE"] = EXE
        try:
            self.assertEqual(laminar.find_executable(), os.path.abspath(EXE))
        finally:
            if old is None:
                del os.environ["LAMINAR_EXECUTABLE"]
            else:
                os.environ["LAMINAR_EXECUTABLE"] = old

    def test_params_file_and_run_laminar(self):
        import yaml

        net = network(self.data, steps=30)
        net["simulation"]["output"] = os.path.join(self.tmp, "fromfile")
        path = os.path.join(self.tmp, "p.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(laminar.api._plain(net), f)
        r = laminar.run(path, executable=EXE, steps=20)  # the output folder from simulation.output
        self.assertEqual(r.dir, net["simulation"]["output"])
        self.assertEqual(int(r.energy()["step"].max()), 19)
        from laminar.run import run_laminar

        r2 = run_laminar(EXE, path, os.path.join(self.tmp, "tutorial-style"), ["simulation.steps=10"],
                                 log=lambda s: None)
        self.assertEqual(len(r2.energy_arrays()["step"]), 10)


class NumericAttributesTest(unittest.TestCase):
    """Root attributes stored as numbers (not text) read the same."""

    def test_numbers_or_text(self):
        with tempfile.TemporaryDirectory() as d:
            with h5py.File(os.path.join(d, "laminar.h5"), "w") as f:
                f.attrs["params"] = "simulation: {steps: 2}\n"
                f.attrs["laminar_version"] = np.bytes_(b"0.1.0")
                f.attrs["run_seconds"] = 1.5
                f.attrs["mpi_ranks"] = np.int64(2)
                f.attrs["omp_threads"] = "4"
                f.attrs["run_id"] = "1234e5"
            r = Run(d)
            self.assertEqual(r.meta["run_seconds"], 1.5)
            self.assertEqual(r.meta["mpi_ranks"], 2)
            self.assertEqual(r.meta["omp_threads"], 4)
            self.assertEqual(r.meta["run_id"], "1234e5")
            self.assertEqual(r.params, {"simulation": {"steps": 2}})
            self.assertEqual(r.attrs["mpi_ranks"], "2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
