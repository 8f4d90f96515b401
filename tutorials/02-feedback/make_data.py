#!/usr/bin/python3
"""Data for tutorial 02: paired handwritten and printed digits of two classes, as HDF5 for ImageInput.

Handwritten: scikit-learn's bundled 8x8 digits (load_digits; 16 grey levels, mapped to [0, 1]).
Printed: the same digits rendered with the Liberation fonts (Debian fonts-liberation) the way the
handwritten set was made: the glyph is drawn large, cropped to its bounding box, scaled to fit
a 28x28 box (aspect kept), placed in a 32x32 canvas with a small random shift, and averaged over
4x4 blocks to 8x8 in [0, 1]. Each printed sample draws a random font, style and shift.

Writes to OUTDIR:
  train_hand.h5, train_print.h5   pairs of the same class,
                                  shuffled (ImageInput presents item p*batch + b to both streams)
  test_hand.h5                    held-out handwritten digits of the two classes
  print_C.h5 (C: each class)      for every test item, a printed digit of class C
  Each file holds `images` (centred on the stream's training mean image and scaled to mean L2 norm 1
  over the training set: the network's input), `raw` (the [0, 1] pictures) and `labels`.

usage: make_data.py OUTDIR [--classes 3 8] [--train-per-class 50] [--test-per-class 0] [--seed 1]
  --test-per-class 0 keeps every remaining handwritten digit of the two classes.
"""
import argparse
import glob
import os

import h5py
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2"]


def fonts():
    out = []
    for d in FONT_DIRS:
        out += sorted(glob.glob(os.path.join(d, "Liberation*.ttf")))
    if not out:
        raise SystemExit("no Liberation fonts found (Debian: apt-get install fonts-liberation)")
    return out


def render(digit, font_file, rng):
    """One printed digit as an 8x8 float image in [0, 1], made like scikit-learn's 8x8 digits."""
    font = ImageFont.truetype(font_file, 96)
    canvas = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(canvas).text((30, 10), str(digit), fill=255, font=font)
    box = canvas.getbbox()
    glyph = canvas.crop(box)
    w, h = glyph.size
    s = 28.0 / max(w, h) * rng.uniform(0.85, 1.0)
    glyph = glyph.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    big = Image.new("L", (32, 32), 0)
    gw, gh = glyph.size
    x0 = (32 - gw) // 2 + int(rng.integers(-1, 2))
    y0 = (32 - gh) // 2 + int(rng.integers(-1, 2))
    big.paste(glyph, (x0, y0))
    a = np.asarray(big, dtype=np.float64) / 255.0
    return a.reshape(8, 4, 8, 4).mean(axis=(1, 3)).astype(np.float32)


def write(path, raw, labels, mean, scale):
    """images: (raw - mean) / scale, the network's input; raw: the [0, 1] picture (for plots)."""
    raw = np.asarray(raw, dtype=np.float32)
    with h5py.File(path, "w") as f:
        f["images"] = ((raw - mean) / scale).astype(np.float32)
        f["raw"] = raw
        f["labels"] = np.asarray(labels, dtype=np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--classes", type=int, nargs=2, default=[3, 8])
    ap.add_argument("--train-per-class", type=int, default=50)
    ap.add_argument("--test-per-class", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(a.seed)
    d = load_digits()
    x_all = (d.images / 16.0).astype(np.float32)
    font_files = fonts()
    train_idx, test_idx = [], []
    for c in a.classes:
        idx = rng.permutation(np.nonzero(d.target == c)[0])
        train_idx += list(idx[:a.train_per_class])
        rest = idx[a.train_per_class:]
        test_idx += list(rest if a.test_per_class == 0 else rest[:a.test_per_class])
    train_idx = rng.permutation(train_idx)
    test_idx = np.sort(np.asarray(test_idx))
    y_train, y_test = d.target[train_idx], d.target[test_idx]
    printed = [render(c, font_files[rng.integers(len(font_files))], rng) for c in y_train]
    printed_test = {c: [render(c, font_files[rng.integers(len(font_files))], rng) for _ in y_test] for c in a.classes}
    os.makedirs(a.outdir, exist_ok=True)
    # each stream is centred on its training mean image and scaled to mean L2 norm 1 over the training set,
    # so that the sparse codes describe how a digit differs from the average digit (both classes share most
    # of their ink), and both streams have the same scale
    hand, printed = x_all[train_idx], np.asarray(printed)
    norm = {}
    for name, x in (("hand", hand), ("print", printed)):
        m = x.mean(axis=0)
        norm[name] = (m, float(np.linalg.norm((x - m).reshape(len(x), -1), axis=1).mean()))
    write(os.path.join(a.outdir, "train_hand.h5"), hand, y_train, *norm["hand"])
    write(os.path.join(a.outdir, "train_print.h5"), printed, y_train, *norm["print"])
    write(os.path.join(a.outdir, "test_hand.h5"), x_all[test_idx], y_test, *norm["hand"])
    for c in a.classes:
        write(os.path.join(a.outdir, f"print_{c}.h5"), printed_test[c], np.full(len(y_test), c), *norm["print"])
    print(f"data: classes {a.classes}, {len(y_train)} training pairs, {len(y_test)} handwritten test digits "
          f"-> {a.outdir}")


if __name__ == "__main__":
    main()
