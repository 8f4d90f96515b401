#!/usr/bin/python3
"""Natural-image patches from scikit-image's bundled photographs, whitened and standardized.

usage: make_patches.py OUTDIR [--train N] [--test N] [--size P] [--seed S]

Each photograph is converted to grey levels in [0, 1], halved in size (anti-aliased: less JPEG
noise), whitened with Olshausen & Field's filter R(f) = f exp(-(f / f0)^4) (f0 = 0.2 cycles/pixel,
i.e. 0.4 x Nyquist) and scaled to unit variance. Patches of P x P pixels are cut
at random positions; the flattest 30% (by variance) are dropped, then each patch is standardized
(zero mean, unit variance). Training patches come from the training photographs, test patches
from two held-out ones (camera, coffee). Writes OUTDIR/train.h5 and OUTDIR/test.h5 with a
dataset `images` of shape (N, P, P, 1), float32, which ImageInput reads with `format: hdf5`.
"""
import argparse
import os

import h5py
import numpy as np
import skimage.data as skd
from skimage.color import rgb2gray
from skimage.transform import rescale

TRAIN = ["astronaut", "chelsea", "rocket", "grass", "gravel", "brick", "moon", "coins", "clock",
         "hubble_deep_field", "immunohistochemistry"]
TEST = ["camera", "coffee"]


def load(name):
    im = getattr(skd, name)()
    im = rgb2gray(im) if im.ndim == 3 else im.astype(np.float64) / 255.0
    return rescale(im, 0.5, anti_aliasing=True)


def whiten(im, f0=0.2):
    """Olshausen & Field (1996) whitening: flatten the 1/f amplitude spectrum, low-pass the corners."""
    ny, nx = im.shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.fftfreq(nx)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    out = np.real(np.fft.ifft2(np.fft.fft2(im - im.mean()) * f * np.exp(-(f / f0) ** 4)))
    return out / out.std()


def patches(names, n, size, rng):
    ims = [whiten(load(name)) for name in names]
    out = []
    while len(out) < n:
        cand = []
        for _ in range(2 * n):
            im = ims[rng.integers(len(ims))]
            y = rng.integers(0, im.shape[0] - size)
            x = rng.integers(0, im.shape[1] - size)
            cand.append(im[y:y + size, x:x + size])
        cand = np.array(cand)
        var = cand.reshape(len(cand), -1).var(axis=1)
        keep = cand[var > np.quantile(var, 0.3)]
        out.extend(keep[: n - len(out)])
    p = np.array(out)
    p -= p.mean(axis=(1, 2), keepdims=True)
    p /= p.std(axis=(1, 2), keepdims=True)
    return p[..., None].astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--train", type=int, default=4096)
    ap.add_argument("--test", type=int, default=128)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for name, names, n in (("train", TRAIN, a.train), ("test", TEST, a.test)):
        p = patches(names, n, a.size, rng)
        with h5py.File(os.path.join(a.outdir, f"{name}.h5"), "w") as f:
            f["images"] = p
        print(f"{name}: {p.shape[0]} patches of {a.size}x{a.size} from {', '.join(names)}")


if __name__ == "__main__":
    main()
