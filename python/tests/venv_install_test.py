"""python.venv_install: the package installs offline into a virtual environment and works from anywhere.

usage: venv_install_test.py [VERSION]   (VERSION: the C++ LAMINAR_VERSION the package must match)

    python3 -m venv --system-site-packages V
    PIP_NO_INDEX=1 V/bin/pip install --no-build-isolation PYTHON_DIR

PYTHON_DIR is a copy of python/ (setuptools builds in the folder it installs from, leaving build/ and
laminar.egg-info/ there; a copy keeps the source tree clean and parallel ctest runs apart). Then, from an
unrelated folder: `import laminar` comes from the venv, its version is VERSION, the console scripts run,
and nothing installed names an interpreter path.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
VERSION = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None
EXECUTABLE = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None

# What a new user does after the install, from an unrelated folder: a network as a dict, run, read, and a
# bad key caught as LaminarError.
USER_SCRIPT = r"""
import sys, numpy as np, h5py, laminar
exe = sys.argv[1]
rng = np.random.default_rng(0)
with h5py.File("images.h5", "w") as f:
    f["images"] = rng.standard_normal((6, 12, 12, 1)).astype(np.float32)
net = {
    "simulation": {"steps": 60, "display_period": 20, "batch_size": 2, "seed": 1},
    "layers": {"Input": {"type": "ImageInput", "path": "images.h5", "normalize": "standardize"},
               "Residual": {"type": "Error"},
               "V1": {"type": "LCA", "nx": 6, "ny": 6, "nf": 8, "tau": 20, "lambda": 0.1}},
    "connections": {"I": {"type": "Identity", "pre": "Input", "post": "Residual"},
                    "D": {"type": "Convolution", "pre": "V1", "post": "Residual", "channel": "inhibitory",
                          "patch_size": 4, "learning_rate": 0.05},
                    "T": {"type": "Transpose", "original": "D", "pre": "Residual", "post": "V1"}},
    "probes": {"Energy": {"type": "Energy"}, "Code": {"type": "ActivityRecorder", "layer": "V1", "period": 20}},
}
run = laminar.run(net, output="out", executable=exe)
energy = run.energy()
assert len(energy) == 60 * 2 and "energy" in energy.columns, energy.columns
ds = run.to_xarray("Code")
code = [v for v in ds.data_vars if set(ds[v].dims) >= {"batch", "y", "x", "feature"}]
assert code, {v: ds[v].dims for v in ds.data_vars}
code = code[0]
assert ds[code].dims[0] == "step" and ds[code].sizes["step"] == 3, ds[code].sizes
with h5py.File("out/laminar.h5") as f:
    assert np.array_equal(ds[code].values, f["probes/Code/data"][()])
net["layers"]["V1"]["lambdaa"] = 0.1
try:
    laminar.run(net, output="bad", executable=exe)
    raise SystemExit("a bad key was accepted")
except laminar.LaminarError as e:
    assert "lambdaa" in str(e), str(e)
print("OK", len(energy), "energy rows;", code, dict(ds[code].sizes))
"""


class VenvInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="laminar-venv-")
        tmp = cls.tmpdir.name
        cls.venv = os.path.join(tmp, "v")
        src = os.path.join(tmp, "src")
        shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
        cls.cwd = os.path.join(tmp, "elsewhere")
        os.makedirs(cls.cwd)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_INDEX_URL")}
        env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
        cls.env = env
        r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", cls.venv],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise AssertionError(f"venv failed (Debian: python3-venv):\n{r.stdout}{r.stderr}")
        cls.py = os.path.join(cls.venv, "bin", "python")
        r = subprocess.run([cls.py, "-m", "pip", "install", "--no-build-isolation", src],
                           capture_output=True, text=True, env=env, cwd=cls.cwd)
        if r.returncode != 0:
            raise AssertionError(f"pip install failed:\n{r.stdout}{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def venv_run(self, *args):
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env, cwd=self.cwd)

    def test_import_from_venv(self):
        r = self.venv_run(self.py, "-c", "import laminar, sys; print(laminar.__file__); print(laminar.__version__); "
                                         "print(laminar.run, laminar.check, laminar.Run, laminar.LaminarError)")
        self.assertEqual(r.returncode, 0, r.stderr)
        path, version = r.stdout.splitlines()[:2]
        self.assertTrue(os.path.realpath(path).startswith(os.path.realpath(self.venv) + os.sep), path)
        if VERSION:
            self.assertEqual(version, VERSION, "python/laminar/__init__.py __version__ != CMake LAMINAR_VERSION")

    def test_metadata(self):
        r = self.venv_run(self.py, "-c", "import importlib.metadata as m; d = m.distribution('laminar'); "
                                         "print(d.version); print(sorted(e.name for e in d.entry_points))")
        self.assertEqual(r.returncode, 0, r.stderr)
        version, scripts = r.stdout.splitlines()[:2]
        if VERSION:
            self.assertEqual(version, VERSION)
        self.assertIn("laminar-plot", scripts)
        if os.path.exists(os.path.join(PYTHON_DIR, "laminar", "report.py")):
            self.assertIn("laminar-report", scripts)

    def test_console_scripts(self):
        r = self.venv_run(os.path.join(self.venv, "bin", "laminar-plot"), "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage: laminar-plot", r.stdout)
        r = self.venv_run(os.path.join(self.venv, "bin", "laminar-plot"), os.path.join(self.cwd, "nothing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no Laminar output", r.stderr)
        if os.path.exists(os.path.join(PYTHON_DIR, "laminar", "report.py")):
            r = self.venv_run(os.path.join(self.venv, "bin", "laminar-report"), "--help")
            self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(EXECUTABLE, "no laminar executable given")
    def test_user_script(self):
        script = os.path.join(self.cwd, "first.py")
        with open(script, "w") as f:
            f.write(USER_SCRIPT)
        r = self.venv_run(self.py, script, EXECUTABLE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK 120 energy rows", r.stdout)

    def test_no_interpreter_paths(self):
        r = self.venv_run(self.py, "-c", "import laminar, os; print(os.path.dirname(laminar.__file__))")
        pkg = r.stdout.strip()
        for name in os.listdir(pkg):
            if name.endswith(".py"):
                with open(os.path.join(pkg, name), encoding="utf-8") as f:
                    self.assertNotIn("/usr/bin/python", f.read(), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
