"""python.report: `python -m laminar report` on a real run, and the page seen in a headless browser.

usage: report_test.py LAMINAR   (ctest passes the built executable)

Runs a small LCA network (HDF5 input written here) with Energy, Stats and ActivityRecorder probes of the
input, the Error layer and its inhibitory buffer; writes the report; checks that the HTML's sections come
in order, that every image it links is a relative link to an existing PNG, the fallbacks (reconstruction
from input - residual, notes for what was not recorded, exit 2 without laminar.h5), and finally renders
report.html in Debian's chromium (installed by scripts/setup) and checks the screenshot is not blank and
that the dictionary is there with varied pixels.
"""
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.join(HERE, "..")
sys.path.insert(0, PYDIR)

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402

from laminar import plots, report  # noqa: E402

LAMINAR = None  # set from argv in __main__
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

NET = """
simulation: {{steps: 100, display_period: 25, batch_size: 2, output: {out}, seed: 5}}
layers:
  Input: {{type: ImageInput, path: {data}, normalize: standardize}}
  E: {{type: Error}}
  V1: {{type: LCA, nx: 6, ny: 6, nf: 8, tau: 20, lambda: 0.1, init_membrane: uniform, reset_on: Input}}
connections:
  I: {{type: Identity, pre: Input, post: E}}
  D: {{type: Convolution, pre: V1, post: E, channel: inhibitory, patch_size: 4, learning_rate: 0.05, momentum: 0.5}}
  T: {{type: Transpose, original: D, pre: E, post: V1}}
probes:
  Energy: {{type: Energy}}
  Stats: {{type: Stats, layer: V1}}
  InRec: {{type: ActivityRecorder, layer: Input}}
  ERec: {{type: ActivityRecorder, layer: E}}
  Recon: {{type: ActivityRecorder, layer: E, buffer: inhibitory}}
"""


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.ids = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if "id" in a:
            self.ids.append(a["id"])


def report_main(*argv):
    """report.main in this process (no interpreter start-up): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = report.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def copy_run(src, dst, drop=()):
    """A copy of a run folder's laminar.h5 with some groups deleted (a run that recorded less)."""
    os.makedirs(dst)
    h5 = os.path.join(dst, "laminar.h5")
    shutil.copy(os.path.join(src, "laminar.h5"), h5)
    with h5py.File(h5, "a") as f:
        for g in drop:
            del f[g]
    return dst


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="laminar-report-")
        rng = np.random.default_rng(3)
        yy, xx = np.mgrid[0:12, 0:12]
        # oriented gratings plus noise: 8 distinct images, so the 2 batch elements differ
        x = np.stack([np.sin(0.7 * (np.cos(t) * xx + np.sin(t) * yy)) for t in np.linspace(0, np.pi, 8, endpoint=False)])
        x = (x + 0.3 * rng.standard_normal(x.shape))[..., None].astype(np.float32)
        data = os.path.join(cls.tmp, "x.h5")
        with h5py.File(data, "w") as f:
            f["images"] = x
        cls.out = os.path.join(cls.tmp, "run")
        params = os.path.join(cls.tmp, "p.yaml")
        with open(params, "w") as f:
            f.write(NET.format(out=cls.out, data=data))
        env = dict(os.environ, OMP_NUM_THREADS="1")
        r = subprocess.run([LAMINAR, "run", params, "-q"], capture_output=True, text=True, env=env, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"laminar run failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        # the command as a person types it (also checks laminar/__main__.py dispatches `report`)
        r = subprocess.run([sys.executable, "-m", "laminar", "report", cls.out], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=PYDIR), timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"python -m laminar report failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        cls.html_path = os.path.join(cls.out, "report.html")
        with open(cls.html_path, encoding="utf-8") as f:
            cls.html = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_links(self, folder, page):
        links = _Links()
        links.feed(page)
        self.assertTrue(links.imgs, "the report links no images")
        for src in links.imgs:
            self.assertFalse(re.match(r"^([a-z]+:|/)", src), f"{src}: not a relative link")
            path = os.path.join(folder, src)
            self.assertTrue(os.path.isfile(path), f"report.html links {src}, which does not exist")
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), PNG_MAGIC, f"{src} is not a PNG")
        return links

    def test_html_sections_and_links(self):
        links = self.check_links(self.out, self.html)
        srcs = sorted(os.path.basename(s) for s in links.imgs)
        self.assertEqual(srcs, ["dictionary-D.png", "energy-Energy.png", "reconstruction-E.png", "sparsity-Stats.png"])
        # every PNG in report/ is linked
        self.assertEqual(sorted(os.listdir(os.path.join(self.out, "report"))), srcs)
        # sections in the order of the issue
        order = [links.ids.index(s) for s in ("params", "curves", "dictionary", "reconstruction")]
        self.assertEqual(order, sorted(order))
        # header: run name, version, steps, backend
        header = self.html[self.html.index("<header>"):self.html.index("</header>")]
        for text in ("Laminar run: run", "0.1.0", ">100<", ">cpu<"):
            self.assertIn(text, header)
        self.assertIn("ActivityRecorder, layer: Input", self.html)  # the resolved params
        self.assertIn("Each step, in this order", self.html)  # the schedule
        self.assertIn("inhibitory buffer (Phi a)", self.html)  # the recorded reconstruction was used
        self.assertNotIn('class="note"', self.html)  # everything was recorded

    def test_inhibitory_buffer_is_the_reconstruction(self):
        # what the report assumes: the Error layer's inhibitory buffer is Phi a, so input = recon + residual
        with h5py.File(os.path.join(self.out, "laminar.h5")) as f:
            x, e, r = (f[f"probes/{n}/data"][:] for n in ("InRec", "ERec", "Recon"))
        np.testing.assert_allclose(x - r, e, atol=1e-5)
        self.assertGreater(np.abs(r).max(), 0.1)

    def test_shared_scale(self):
        d = os.path.join(self.tmp, "shared")
        rc, out, err = report_main(self.out, "--shared-scale", "--out", d)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertIn("one shared grey scale", page)
        self.assertIn("each kernel on its own grey scale", self.html)
        own = mpimg.imread(os.path.join(self.out, "report", "dictionary-D.png"))
        shared = mpimg.imread(os.path.join(d, "report", "dictionary-D.png"))
        self.assertFalse(np.array_equal(own, shared), "--shared-scale drew the same dictionary")
        # the renderer: per kernel, every tile reaches black or white; shared, only the largest does
        w = np.stack([np.full((3, 3, 1), 1.0), np.full((3, 3, 1), 0.25)])
        w[:, 0, 0, 0] = -w[:, 0, 0, 0]
        self.assertAlmostEqual(plots.dictionary_image(w)[2, 6], 1.0)  # kernel 1, tile pixel (1, 1)
        self.assertAlmostEqual(plots.dictionary_image(w, shared_scale=True)[2, 6], 0.625)

    def test_reconstruction_from_input_minus_residual(self):
        d = copy_run(self.out, os.path.join(self.tmp, "no-recon"), drop=["probes/Recon"])
        rc, out, err = report_main(d)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.check_links(d, page)
        self.assertIn("reconstruction = input &minus; residual", page)
        self.assertTrue(os.path.isfile(os.path.join(d, "report", "reconstruction-E.png")))

    def test_missing_pieces_are_notes(self):
        d = copy_run(self.out, os.path.join(self.tmp, "bare"),
                     drop=["probes/InRec", "probes/ERec", "probes/Recon", "probes/Stats", "probes/Energy", "connections"])
        rc, out, err = report_main(d)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertIn("No Energy probe", page)
        self.assertIn("No Stats probe", page)
        self.assertIn("No plastic connection", page)
        self.assertIn("panel skipped", page)
        self.assertIn("Each step, in this order", page)  # params and schedule are still there
        self.assertEqual(os.listdir(os.path.join(d, "report")), [])

    def test_no_laminar_h5_exits_2(self):
        d = os.path.join(self.tmp, "empty")
        os.makedirs(d)
        rc, out, err = report_main(d)
        self.assertEqual(rc, 2)
        self.assertIn(os.path.join(d, "laminar.h5"), err)
        self.assertFalse(os.path.exists(os.path.join(d, "report.html")))

    def test_screenshot_in_headless_chromium(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            self.fail("chromium is not installed: run scripts/setup (it installs Debian's chromium package, "
                      "which this test uses to render report.html headless)")
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--window-size=1200,3000",
                "--user-data-dir=" + os.path.join(self.tmp, "chromium-profile")]
        # where the browser lays out the dictionary: a copy of the page that writes the image's box into the DOM
        probe = os.path.join(self.out, "report-probe.html")
        script = ("<script>window.addEventListener('load', function () {"
                  "var r = document.querySelector('#dictionary img').getBoundingClientRect();"
                  "document.body.setAttribute('data-rect', [r.left, r.top, r.width, r.height].join(','));"
                  "});</script></body>")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(self.html.replace("</body>", script))
        env = dict(os.environ, HOME=self.tmp)
        r = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", "file://" + probe],
                           capture_output=True, text=True, timeout=90, env=env)
        m = re.search(r'data-rect="([-\d.,]+)"', r.stdout)
        self.assertTrue(m, f"chromium --dump-dom gave no layout (exit {r.returncode}):\n{r.stderr[-2000:]}")
        left, top, width, height = (float(v) for v in m.group(1).split(","))
        self.assertGreater(width * height, 100 * 100, "the dictionary image is laid out (almost) empty")
        shot = os.path.join(self.tmp, "shot.png")
        r = subprocess.run(base + ["--screenshot=" + shot, "file://" + self.html_path],
                           capture_output=True, text=True, timeout=90, env=env)
        self.assertTrue(os.path.isfile(shot), f"chromium wrote no screenshot (exit {r.returncode}):\n{r.stderr[-2000:]}")
        img = mpimg.imread(shot)[..., :3]  # [H, W, 3] in [0, 1]
        self.assertEqual(img.shape[:2], (3000, 1200))
        grey = img.mean(axis=2)
        self.assertGreater(np.mean(grey < 0.9), 0.05, "the screenshot is (nearly) blank")
        self.assertLess(grey[:40].mean(), 0.35, "the dark header is missing (no CSS?)")
        self.assertLessEqual(top + height, img.shape[0], "the dictionary lies below the screenshot")
        crop = img[int(top):int(top + height), int(left):int(left + width)]
        colours = len(np.unique(np.round(crop.reshape(-1, 3) * 255).astype(np.uint8), axis=0))
        self.assertGreater(colours, 16, f"the dictionary region has only {colours} colours")
        self.assertGreater(crop.mean(axis=2).std(), 0.1, "the dictionary region is (nearly) uniform")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    LAMINAR = sys.argv.pop(1)
    unittest.main(verbosity=2)
