"""params/paper/deep-sparse-coding.yaml: checked on a generated face folder; its scaled-down copy runs.

usage: test_paper_params.py LAMINAR_EXE PARAMS_DIR

1. The full file and params/paper/deep-sparse-coding-small.yaml declare the same network: same layers
   (types, masks, follow, reset_on, presence keys), same connections (type, pre, post, channel,
   pre_buffer, original), same probes; only sizes, rates and periods differ.
2. `laminar check` accepts the full file on a generated folder of six 64x64 RGB faces with names.csv
   (one name withheld by has_text 0, one empty, one all-black face), and reports the paper's geometry.
3. The small copy runs on the same kind of data at 16x16; from its HDF5 output:
   - every energy is finite and the run learns every dictionary (final weights finite, not all equal);
   - E_T1's energy term = 0.5 ||Text - Phi_T1 a_T1||^2 computed in numpy from the recorded text image
     (Items) and reconstruction (TextReconstruction) where the name is present, and exactly 0 where it
     is absent (masked);
   - GeneratedText PNGs exist exactly for the samples/batch elements whose name is absent, and
     GeneratedFace exactly for the all-black face.
"""
import os
import subprocess
import sys

import numpy as np
import yaml

import systest as st

NAMES = ["Halle Berry", "George W Bush", "Ada Lovelace", "Grace Hopper", "", "Alan Turing"]
HAS_TEXT = [1, 0, 1, 1, 1, 1]
BLANK = 2


def make_faces(folder, size, rng):
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/names.csv", "w") as f:
        f.write("file,label,has_text\n")
        for i, (n, h) in enumerate(zip(NAMES, HAS_TEXT)):
            yy, xx = np.mgrid[0:size, 0:size] / size
            img = np.stack([np.exp(-((yy - rng.random()) ** 2 + (xx - rng.random()) ** 2) * 8) for _ in range(3)], -1)
            img = (255 * img).astype(np.uint8) if i != BLANK else np.zeros((size, size, 3), np.uint8)
            Image.fromarray(img).save(f"{folder}/face{i}.png")
            f.write(f"face{i}.png,{n},{h}\n")


def structure(p):
    keep_l = ("type", "mask", "follow", "reset_on", "absent_if_blank", "present_column", "threshold", "channels")
    keep_c = ("type", "pre", "post", "channel", "pre_buffer", "original")
    keep_p = ("type", "layer", "buffer", "only_absent", "scaling")
    return ({k: {q: v.get(q) for q in keep_l} for k, v in p["layers"].items()},
            {k: {q: v.get(q) for q in keep_c} for k, v in p["connections"].items()},
            {k: {q: v.get(q) for q in keep_p} for k, v in p["probes"].items()})


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    exe, pdir = argv[1], argv[2]
    full_path, small_path = f"{pdir}/deep-sparse-coding.yaml", f"{pdir}/deep-sparse-coding-small.yaml"
    chk = st.Checker()
    full, small = yaml.safe_load(open(full_path)), yaml.safe_load(open(small_path))
    sf, ss = structure(full), structure(small)
    for what, a, b in zip(("layers", "connections", "probes"), sf, ss):
        chk.true(f"small copy has the same {what} as the paper file", a == b, f"{len(a)} {what}")
    chk.true("paper file: 400 LCA steps per input", full["simulation"]["display_period"] == 400)
    rng = np.random.default_rng(5)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with st.workdir() as tmp:
        make_faces(f"{tmp}/faces64", 64, rng)
        sets = ["--set", f"layers.Image.path={tmp}/faces64", "--set", f"layers.Image.labels={tmp}/faces64/names.csv"]
        proc = subprocess.run([exe, "check", full_path, *sets], capture_output=True, text=True, env=env)
        print(proc.stderr.strip())
        chk.true("laminar check accepts the paper file on a generated face folder", proc.returncode == 0,
                 f"exit {proc.returncode}")
        for want in ("Image (ImageInput): 64x64x3, 6 images", "Text (TextInput): 16x128x1", "P1 (LCA): 1x1x512",
                     "Phi_PT (Convolution): P1 -> E_PT, weights 512x4x32x64"):
            chk.true(f"check reports {want!r}", want in proc.stdout)

        make_faces(f"{tmp}/faces16", 16, rng)
        out = f"{tmp}/out-small"
        sets = ["--set", f"layers.Image.path={tmp}/faces16", "--set", f"layers.Image.labels={tmp}/faces16/names.csv",
                "--output", out]
        proc = subprocess.run([exe, "run", small_path, "-q", *sets], capture_output=True, text=True, env=env)
        if not chk.true("the small copy runs", proc.returncode == 0, proc.stderr.strip()[-500:]):
            return chk.exit()
        run = st.Run(out)
        en = run.energy_arrays("Energy")
        chk.true("energies finite", all(np.all(np.isfinite(v)) for v in en.values()))
        for c in ("Phi_V1", "Phi_V2", "Phi_V3", "Phi_T1", "Phi_T2", "Phi_PV", "Phi_PT"):
            w = run.final_weights(c)
            chk.true(f"{c} final weights finite and not constant", np.all(np.isfinite(w)) and np.ptp(w) > 0)
        steps, text = run.recorder("Items")
        items = run.probe("Items")["item"]
        rsteps, recon = run.recorder("TextReconstruction")
        chk.true("Items and TextReconstruction sampled together", np.array_equal(steps, rsteps), str(steps))
        present = np.array([[bool(NAMES[i]) and HAS_TEXT[i] == 1 for i in row] for row in items])
        want = np.where(present, 0.5 * np.sum((text - recon).reshape(len(steps), text.shape[1], -1) ** 2, axis=2), 0.0)
        got = en["E_T1"][steps]
        chk.close("E_T1 energy = 0.5||Text - Phi_T1 a_T1||^2 (present), 0 (absent)", got, want, rtol=1e-5,
                  atol=1e-7 * float(np.max(want)), elementwise=True)
        chk.true("some names absent, some present", present.any() and not present.all(), f"{present.tolist()}")
        chk.true("absent names are blank text images", not np.any(text[~present]))
        for probe, absent in (("GeneratedText", ~present), ("GeneratedFace", items == BLANK)):
            want_files = sorted(f"step{s:08d}-b{b:03d}.png" for k, s in enumerate(steps)
                                for b in range(items.shape[1]) if absent[k, b])
            have = sorted(os.listdir(f"{out}/{probe}")) if os.path.isdir(f"{out}/{probe}") else []
            chk.true(f"{probe} PNGs exactly for the absent elements", have == want_files, f"{len(have)} files")
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
