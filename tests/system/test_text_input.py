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
Variation (font_families x font_styles, size_jitter, jitter_x/y): 8 items, pairs of them with the same
name, shown shuffled over several epochs. Checks:
  - every presentation of an item is bit-identical (the draw is per item, not per presentation);
  - two items with the same name look different;
  - each item is the PIL/FreeType rendering (same tolerances) of its name in the font, em size and shift
    that the documented draw gives (splitmix64 stream Rng(seed, "text_style/<layer>", item), mirrored
    below), so the draw rule in the reference is the one the layer uses;
  - fonts of more than one family and style are drawn.
"""
import os
import sys

import numpy as np

import systest as st

FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
NAMES = ["Halle Berry", "George W Bush", "", "Zoë Ångström", "Maximilian Alexander Wolfgang von Habsburg"]
HAS_TEXT = [1, 1, 1, 1, 1]
HAS_TEXT[1] = 0  # George W Bush: text marked absent by the column


def vmetrics(font):
    """(ascender, descender, units per em) from the font's hhea and head tables (the line box both
    TextInput and this reference lay out; FreeType's pixel metrics are rounded to whole pixels)."""
    import struct
    with open(font, "rb") as f:
        data = f.read()
    tables = {data[12 + 16 * i:16 + 16 * i]: struct.unpack(">I", data[20 + 16 * i:24 + 16 * i])[0]
              for i in range(struct.unpack(">H", data[4:6])[0])}
    asc, desc = struct.unpack(">hh", data[tables[b"hhea"] + 4:tables[b"hhea"] + 8])
    return asc, desc, struct.unpack(">H", data[tables[b"head"] + 18:tables[b"head"] + 20])[0]


def pil_render(text, size, nx=128, ny=16, font=FONT, dx=0.0, dy=0.0):
    """PIL/FreeType rendering with TextInput's layout rule. PIL takes whole-pixel em sizes only: a
    fractional `size` is drawn 8x larger (em round(8 size)) and box-averaged down, which also blurs
    FreeType's hinting away."""
    from PIL import Image, ImageDraw, ImageFont
    k = 1 if float(size).is_integer() else 8
    f = ImageFont.truetype(font, size=int(round(size * k)))
    if k == 1:
        asc, desc = f.font.ascent, f.font.descent  # FreeType's, in pixels at this size
    else:
        a, d, upem = vmetrics(font)
        asc, desc = a * size / upem, -d * size / upem
    w = f.getlength(text) / k
    room_x, room_y = max(0.0, (nx - w) / 2), max(0.0, (ny - (asc + desc)) / 2)
    dx, dy = min(max(dx, -room_x), room_x), min(max(dy, -room_y), room_y)
    img = Image.new("L", (nx * k, ny * k), 0)
    d = ImageDraw.Draw(img)
    baseline = round((ny - (asc + desc)) / 2 + dy + asc)
    d.text((((nx - w) / 2 + dx) * k, baseline * k), text, font=f, fill=255, anchor="ls")
    a = np.asarray(img, np.float64) / 255.0
    return a.reshape(ny, k, nx, k).mean(axis=(1, 3))


M64 = (1 << 64) - 1


class Rng:
    """framework/Random.hpp's splitmix64 stream, for the documented per-item style draw."""

    def __init__(self, seed, stream, index):
        h = 1469598103934665603
        for c in stream.encode():
            h = ((h ^ c) * 1099511628211) & M64
        self.state = ((seed * 0x9E3779B97F4A7C15) & M64) ^ h ^ ((index * 0xD1B54A32D192ED03) & M64)
        self.next()

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self, lo, hi):
        return lo + (hi - lo) * ((self.next() >> 40) / 16777216.0)


def compare(img, want):
    """Rasterisers differ in hinting and coverage (FreeType hints glyphs to the pixel grid, stb_truetype
    does not): compare at a 3x3 box blur, i.e. the same strokes at the same places."""
    corr = float(np.corrcoef(blur(img).ravel(), blur(want).ravel())[0, 1])
    dc = float(np.max(np.abs(centroid(img) - centroid(want))))
    mass = img.sum() / want.sum()
    ok = corr > 0.9 and dc < 0.5 and abs(mass - 1) < 0.15
    return ok, f"correlation {corr:.3f}, centroid offset {dc:.2f} px, ink mass ratio {mass:.3f}"


VARIED = ["Sneaker", "Sneaker", "Bag", "Bag", "Ankle boot", "Ankle boot", "T-shirt/top", "Dress"]
FAMILIES, STYLES = ["sans", "serif", "mono"], ["regular", "bold", "italic"]
FAMILY_FILES, STYLE_FILES = {"sans": "Sans", "serif": "Serif", "mono": "Mono"}, {
    "regular": "Regular", "bold": "Bold", "italic": "Italic"}


def check_variation(exe, chk, tmp):
    from PIL import Image
    rng = np.random.default_rng(5)
    os.makedirs(f"{tmp}/items", exist_ok=True)
    with open(f"{tmp}/varied.csv", "w", encoding="utf-8") as f:
        f.write("file,label\n")
        for i, n in enumerate(VARIED):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(f"{tmp}/items/item{i}.png")
            f.write(f"item{i}.png,{n}\n")
    seed, jx, jy, sj = 7, 6.0, 1.5, 0.15
    params = st.params_skeleton(48, 2, 4, f"{tmp}/varied")  # 24 presentations of 4: 12 epochs of 8 items
    params["simulation"]["seed"] = seed
    params["layers"] = {
        "Items": {"type": "ImageInput", "path": f"{tmp}/items", "labels": f"{tmp}/varied.csv", "shuffle": True},
        "Name": {"type": "TextInput", "follow": "Items", "font_size": 12, "font_families": FAMILIES,
                 "font_styles": STYLES, "size_jitter": sj, "jitter_x": jx, "jitter_y": jy},
    }
    params["connections"] = {}
    params["probes"] = {"NameRec": {"type": "ActivityRecorder", "layer": "Name", "period": 2}}
    run, _ = st.run_laminar(exe, params, tmp, "varied")
    items = run.probe("NameRec")["item"]
    _, text = run.recorder("NameRec")
    first = {}
    identical = True
    for s in range(text.shape[0]):
        for b in range(text.shape[1]):
            i = int(items[s, b])
            if i in first:
                identical &= np.array_equal(first[i], text[s, b, :, :, 0])
            else:
                first[i] = text[s, b, :, :, 0]
    chk.true("every item shown", sorted(first) == list(range(len(VARIED))), str(sorted(first)))
    chk.true("each presentation of an item is bit-identical (style drawn per item)", identical)
    for i in range(0, 6, 2):
        chk.true(f"items {i} and {i + 1} ({VARIED[i]!r}) look different", not np.array_equal(first[i], first[i + 1]))
    drawn = set()
    for i in sorted(first):
        r = Rng(seed, "text_style/Name", i)
        k = r.next() % (len(FAMILIES) * len(STYLES))
        fam, sty = FAMILIES[k // len(STYLES)], STYLES[k % len(STYLES)]
        size, dx, dy = 12 * (1 + sj * r.uniform(-1, 1)), jx * r.uniform(-1, 1), jy * r.uniform(-1, 1)
        drawn.add((fam, sty))
        font = os.path.join(os.path.dirname(FONT), f"Liberation{FAMILY_FILES[fam]}-{STYLE_FILES[sty]}.ttf")
        ok, how = compare(first[i], pil_render(VARIED[i], size, font=font, dx=dx, dy=dy))
        chk.true(f"item {i} {VARIED[i]!r} = PIL in {fam} {sty} at {size:.2f} px shifted ({dx:+.2f}, {dy:+.2f})", ok, how)
    chk.true("more than one family and style drawn", len({f for f, _ in drawn}) > 1 and len({s for _, s in drawn}) > 1,
             str(sorted(drawn)))


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
                    ok, how = compare(img, pil_render(name, 12))
                    chk.true(f"{name!r} vs PIL/FreeType", ok, how)
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
        check_variation(exe, chk, tmp)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
