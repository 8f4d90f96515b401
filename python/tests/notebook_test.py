"""python.notebook: every cell of the notebooks in docs/notebooks runs without an error.

usage: notebook_test.py [LAMINAR]   (else $LAMINAR_EXECUTABLE)

Each notebook is executed with nbclient (Debian: python3-nbclient, python3-nbformat, python3-ipykernel)
in a kernel that uses this interpreter (a kernel spec made here: not whatever `python3` a system spec
names), in a temporary folder, with LAMINAR_EXECUTABLE naming the laminar to run.
"""
import glob
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "docs", "notebooks", "*.ipynb")))
EXE = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else os.environ.get("LAMINAR_EXECUTABLE")
KERNEL = "laminar-test-python"


class NotebookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            import nbclient  # noqa: F401
            import nbformat  # noqa: F401
            import ipykernel  # noqa: F401
        except ImportError as e:
            raise AssertionError(f"{e} (Debian: python3-nbclient python3-nbformat python3-ipykernel; scripts/setup)")
        if not EXE:
            raise AssertionError("no laminar executable (argument or LAMINAR_EXECUTABLE)")
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="laminar-notebook-")
        spec = os.path.join(cls.tmpdir.name, "jupyter", "kernels", KERNEL)
        os.makedirs(spec)
        with open(os.path.join(spec, "kernel.json"), "w") as f:
            json.dump({"argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                       "display_name": "Laminar test", "language": "python"}, f)
        os.environ["JUPYTER_PATH"] = os.path.join(cls.tmpdir.name, "jupyter") + os.pathsep + \
            os.environ.get("JUPYTER_PATH", "")
        os.environ["LAMINAR_EXECUTABLE"] = os.path.abspath(EXE)
        os.environ.pop("MPLBACKEND", None)  # the notebooks ask for the inline backend
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        path = os.path.join(REPO, "python")
        os.environ["PYTHONPATH"] = path + os.pathsep + os.environ.get("PYTHONPATH", "")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def test_notebooks(self):
        import nbformat
        from nbclient import NotebookClient

        self.assertTrue(NOTEBOOKS, "no notebooks in docs/notebooks")
        for path in NOTEBOOKS:
            with self.subTest(notebook=os.path.basename(path)):
                nb = nbformat.read(path, as_version=4)
                cwd = tempfile.mkdtemp(dir=self.tmpdir.name)
                client = NotebookClient(nb, timeout=300, kernel_name=KERNEL, allow_errors=False,
                                        resources={"metadata": {"path": cwd}})
                client.execute()  # raises CellExecutionError, naming the cell, on the first failing cell
                images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                             if "image/png" in o.get("data", {}))
                self.assertGreater(images, 0, "no figures drawn")
                nbformat.write(nb, os.path.join(cwd, "executed.ipynb"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
