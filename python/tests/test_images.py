"""Unit tests of laminar.images: central-crop geometry, range, determinism, folder errors, the camera
solver problem and the HDF5 file ImageInput reads. Synthetic images are written to a temporary
folder; the Debian sets are tested where their packages are installed (scripts/setup installs them)."""
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from laminar import images as im  # noqa: E402


def write_png(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


class Crop(unittest.TestCase):
    def test_central_window(self):
        a = np.arange(7 * 10).reshape(7, 10).astype(float)
        c = im.central_crop(a, 4)
        np.testing.assert_array_equal(c, a[1:5, 3:7])          # (7-4)//2 = 1, (10-4)//2 = 3
        np.testing.assert_array_equal(im.central_crop(a, 7)[:, 0], a[:, 1])

    def test_too_small_names_the_image(self):
        with self.assertRaisesRegex(ValueError, r"pic\.png: 10x7 pixels is smaller than the 8x8 crop"):
            im.central_crop(np.zeros((7, 10)), 8, name="pic.png")


class Folder(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        rng = np.random.default_rng(0)
        self.gray = rng.integers(0, 256, size=(300, 400))
        write_png(self.dir / "b.png", self.gray)
        rgb = rng.integers(0, 256, size=(280, 260, 3))
        self.rgb = rgb
        Image.fromarray(rgb.astype(np.uint8)).save(self.dir / "a.png")
        (self.dir / "README").write_text("not an image, ignored")

    def tearDown(self):
        self.tmp.cleanup()

    def test_sorted_cropped_in_range(self):
        s = im.load_images(self.dir, crop=256)
        self.assertEqual(s.names, ["a.png", "b.png"])
        self.assertEqual(s.images.shape, (2, 256, 256))
        self.assertEqual(s.images.dtype, np.float64)
        self.assertGreaterEqual(s.images.min(), 0.0)
        self.assertLessEqual(s.images.max(), 1.0)
        np.testing.assert_allclose(s.images[1], self.gray[22:278, 72:328] / 255.0, atol=1e-12)
        r, g, b = (self.rgb[12:268, 2:258, i] / 255.0 for i in range(3))
        np.testing.assert_allclose(s.images[0], 0.2125 * r + 0.7154 * g + 0.0721 * b, atol=1e-6)

    def test_deterministic(self):
        a = im.load_images(self.dir, crop=64, short_side=128)
        b = im.load_images(self.dir, crop=64, short_side=128)
        self.assertEqual(a.names, b.names)
        np.testing.assert_array_equal(a.images, b.images)

    def test_short_side_downscales_by_area(self):
        write_png(self.dir / "c.png", np.kron(np.arange(12).reshape(3, 4) * 20, np.ones((100, 100))))
        s = im.load_images([self.dir / "c.png"], crop=3, short_side=3)   # 300x400 -> 3x4: block means
        np.testing.assert_allclose(s.images[0], (np.arange(12).reshape(3, 4) * 20 / 255.0)[:, 0:3], atol=1e-5)
        self.assertEqual(im.resize_short_side(np.zeros((100, 50)), 80).shape, (100, 50))  # never upsampled

    def test_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, "no such folder"):
            im.load_images(self.dir / "missing")
        empty = self.dir / "empty"
        empty.mkdir()
        with self.assertRaisesRegex(ValueError, "empty: no PNG/JPEG images"):
            im.load_images(empty)
        (self.dir / "broken.jpg").write_bytes(b"not a jpeg at all")  # noqa: the reader may leave it open
        with self.assertRaisesRegex(ValueError, r"broken\.jpg: not a readable image"):
            im.load_images(self.dir)
        os.remove(self.dir / "broken.jpg")
        with self.assertRaisesRegex(ValueError, r"a\.png: 260x280 pixels is smaller than the 300x300 crop"):
            im.load_images(self.dir, crop=300)
        with self.assertRaisesRegex(ValueError, "short_side 100 is smaller than the crop 256"):
            im.load_images(self.dir, short_side=100)


class Hdf5(unittest.TestCase):
    def test_round_trip_and_layout(self):
        import h5py
        x = np.random.default_rng(1).random((3, 16, 16))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.h5")
            im.write_hdf5(path, x, ["p", "q", "r"], attrs={"crop": 16})
            with h5py.File(path, "r") as f:
                self.assertEqual(f["images"].dtype, np.float32)
                self.assertEqual(f["images"].shape, (3, 16, 16))
                self.assertEqual(f["images"].attrs["crop"], 16)
                self.assertEqual([str(n) for n in f["images"].attrs["names"]], ["p", "q", "r"])
            back = im.read_hdf5(path)
            self.assertEqual(back.names, ["p", "q", "r"])
            np.testing.assert_allclose(back.images, x.astype(np.float32))
            with self.assertRaisesRegex(ValueError, "3 images but 2 names"):
                im.write_hdf5(path, x, ["p", "q"])


class Camera(unittest.TestCase):
    def test_halved_zero_mean(self):
        c = im.camera_256()
        self.assertEqual(c.shape, (256, 256))
        self.assertAlmostEqual(float(c.mean()), 0.0, places=12)
        raw = np.asarray(Image.open(im.SKIMAGE_DATA / "camera.png"), dtype=np.float64) / 255.0
        half = np.zeros((256, 256))
        for i in range(256):               # independent: an explicit loop over the 2x2 blocks
            for j in range(256):
                half[i, j] = (raw[2 * i, 2 * j] + raw[2 * i + 1, 2 * j] + raw[2 * i, 2 * j + 1]
                              + raw[2 * i + 1, 2 * j + 1]) / 4
        np.testing.assert_allclose(c, half - half.mean(), atol=1e-12)


@unittest.skipUnless(all((folder / files[0]).is_file() for folder, _, files in im.DEBIAN_SETS.values()),
                     "the Debian image packages are not installed (run scripts/setup)")
class DebianSets(unittest.TestCase):
    def test_sets(self):
        s = im.load_images("debian")
        self.assertEqual(s.images.shape, (34, 256, 256))
        self.assertEqual(s.names[0], "skimage/camera.png")
        self.assertEqual(len(set(s.names)), 34)
        self.assertTrue(0.0 <= s.images.min() and s.images.max() <= 1.0)
        self.assertTrue((s.images.std(axis=(1, 2)) > 0.004).all())   # no blank crops
        folder = im.DEBIAN_SETS["lxqt-themes"][0]
        fog = im.load_images([folder / "fog.jpg"], short_side=512)         # 2048x1536 -> 683x512
        self.assertEqual(fog.images.shape, (1, 256, 256))
        self.assertEqual(fog.names, ["fog.jpg"])
        self.assertGreater(fog.images[0].std(), s.images[s.names.index("lxqt-themes/fog.jpg")].std())


if __name__ == "__main__":
    unittest.main()
