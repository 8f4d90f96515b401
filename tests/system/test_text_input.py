"""TextInput: names from an image folder's labels CSV rendered to 128x16, against PIL/FreeType.

usage: test_text_input.py LAMINAR_EXE

A folder of 5 images with a labels CSV (names, one empty, one non-ASCII, one too long for 128 px at
12 px, and a has_text column), shown shuffled with batch 2; a TextInput follows it. Checks:
  - alignment: the TextInput's recorded items equal the ImageInput's at every sample (same item per
    batch element), and each element's text image is the rendering of that item's name;
  - against an independent rasteriser (PIL.ImageFont with FreeType, same font, same em size, same layout
    rule: line box ascent+descent centred, advance width centred): correlation of 3x3-blurred images > 0.9
    (hinting differs), ink centroid within 0.5 px, ink mass within 15 %, for every name that fits;
  - non-blank for present names (ink in [0, 1], max > 0.5), exactly blank and absent for the empty
    name and for has_text = 0 (the Error with mask: Name is 0 there);
  - the too-long name is shrunk: its ink lies inside the image and spans at least 90 % of its width;
  - deterministic: a second run gives bit-identical text images.
"""
import os
import sys

import numpy as np

import systest as st

FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
NAMES = ["Halle Berry", "George W Bush", "", "Zoë Ångström", "Maximilian Alexander Wolfgang von Habsburg"]
HAS_TEXT = [1, 1, 1, 1, 1]
HAS_TEXT[1] = 0  # George W Bush: text marked absent by the column


def pil_render(text, size, nx=128, ny=16):
    from PIL import Image, ImageDraw, ImageFont
    f = ImageFont.truetype(FONT, size=size)
    asc, desc = f.font.ascent, f.font.descent  # FreeType's, in pixels at this size
    w = f.getlength(text)
    img = Image.new("L", (nx, ny), 0)
    d = ImageDraw.Draw(img)
    baseline = round((ny - (asc + desc)) / 2 + asc)
    d.text(((nx - w) / 2, baseline), text, font=f, fill=255, anchor="ls")
    return np.asarray(img, np.float64) / 255.0


def blur(img):
    p = np.pad(img, 1)
    return sum(p[dy:dy + img.shape[0], dx:dx + img.shape[1]] for dy in range(3) for dx in range(3)) / 9.0


def centroid(img):
    m = img.sum()
    ys, xs = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return np.array([(ys * img).sum() / m, (xs * img).sum() / m])


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    if not os.path.exists(FONT):
        print(f"skip: {FONT} not installed (fonts-liberation)")
        return st.SKIP
    from PIL import Image
    chk = st.Checker()
    rng = np.random.default_rng(3)
    with st.workdir() as tmp:
        os.makedirs(f"{tmp}/faces", exist_ok=True)
        for i in range(len(NAMES)):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(f"{tmp}/faces/face{i}.png")
        with open(f"{tmp}/names.csv", "w", encoding="utf-8") as f:
            f.write("file,label,has_text\n")
            for i, (n, h) in enumerate(zip(NAMES, HAS_TEXT)):
                f.write(f"face{i}.png,{n},{h}\n")
        outs = []
        for rep in range(2):
            params = st.params_skeleton(20, 2, 2, f"{tmp}/out{rep}")
            params["layers"] = {
                "Faces": {"type": "ImageInput", "path": f"{tmp}/faces", "labels": f"{tmp}/names.csv", "shuffle": True},
                "Name": {"type": "TextInput", "follow": "Faces", "present_column": "has_text", "font_size": 12},
                "NameError": {"type": "Error", "mask": "Name"},
            }
            params["connections"] = {"NameToError": {"type": "Identity", "pre": "Name", "post": "NameError"}}
            params["probes"] = {
                "FacesRec": {"type": "ActivityRecorder", "layer": "Faces", "period": 2},
                "NameRec": {"type": "ActivityRecorder", "layer": "Name", "period": 2},
                "ErrRec": {"type": "ActivityRecorder", "layer": "NameError", "period": 2},
                "NamePNG": {"type": "ImageWriter", "layer": "Name", "scaling": "fixed", "period": 10},
            }
            run, secs = st.run_laminar(exe, params, tmp, f"text{rep}")
            outs.append(run)
        run = outs[0]
        fi = run.probe("FacesRec")["item"]
        ni = run.probe("NameRec")["item"]
        _, text = run.recorder("NameRec")
        _, err = run.recorder("ErrRec")
        chk.true("TextInput items == ImageInput items at every sample", np.array_equal(fi, ni), f"{fi.shape[0]} samples")
        chk.true("shuffled order (so following matters)", not np.array_equal(fi.ravel()[:5], np.arange(5)))
        chk.true("text ink in [0, 1]", text.min() >= 0.0 and text.max() <= 1.0)
        chk.true("text images 16 x 128 x 1", text.shape[2:] == (16, 128, 1), str(text.shape))
        d = float(np.max(np.abs(outs[1].recorder("NameRec")[1] - text)))
        chk.true("deterministic: second run bit-identical", d == 0.0, f"max |diff| {d:.3g}")
        seen = set()
        for s in range(text.shape[0]):
            for b in range(text.shape[1]):
                item = int(ni[s, b])
                img = text[s, b, :, :, 0]
                name = NAMES[item]
                present = bool(name) and HAS_TEXT[item] == 1
                if not present:
                    chk.true(f"item {item} ({name!r}, has_text {HAS_TEXT[item]}) blank and its masked error 0",
                             not img.any() and not err[s, b].any()) if item not in seen else None
                    seen.add(item)
                    continue
                if not np.array_equal(err[s, b, :, :, 0], img):
                    chk.true(f"unmasked error = text for item {item}", False)
                if item in seen:
                    continue
                seen.add(item)
                chk.true(f"{name!r} non-blank", img.max() > 0.5, f"max {img.max():.2f}, ink {img.sum():.1f}")
                from PIL import ImageFont
                width12 = ImageFont.truetype(FONT, size=12).getlength(name)
                if width12 <= 128:
                    want = pil_render(name, 12)
                    # Rasterisers differ in hinting and coverage (FreeType hints glyphs to the pixel grid,
                    # stb_truetype does not): compare at a 3x3 box blur, i.e. the same strokes at the same places.
                    corr = float(np.corrcoef(blur(img).ravel(), blur(want).ravel())[0, 1])
                    dc = float(np.max(np.abs(centroid(img) - centroid(want))))
                    mass = img.sum() / want.sum()
                    chk.true(f"{name!r} vs PIL/FreeType", corr > 0.9 and dc < 0.5 and abs(mass - 1) < 0.15,
                             f"correlation {corr:.3f}, centroid offset {dc:.2f} px, ink mass ratio {mass:.3f}")
                else:
                    cols = np.nonzero(img.sum(0) > 0.05)[0]
                    span = cols[-1] - cols[0] + 1
                    chk.true(f"{name!r} ({width12:.0f} px at 12 px) shrunk to fit", span <= 128 and span >= 0.9 * 128,
                             f"ink spans columns {cols[0]}..{cols[-1]}")
        chk.true("every item was shown", seen == set(range(len(NAMES))), str(sorted(seen)))
        pngs = sorted(os.listdir(f"{tmp}/out0/NamePNG"))
        chk.true("ImageWriter wrote one PNG per batch element and sample", len(pngs) == 4, str(pngs))
        png = np.asarray(Image.open(f"{tmp}/out0/NamePNG/{pngs[0]}"), np.float64)
        want = np.round(255 * np.clip(run.recorder("NameRec")[1][4, 0, :, :, 0], 0, 1))  # step 9 = sample index 4
        chk.true("PNG (scaling fixed [0,1]) = text x 255", png.shape == (16, 128) and np.max(np.abs(png - want)) <= 1,
                 f"max level diff {np.max(np.abs(png - want)):.0f}")
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
