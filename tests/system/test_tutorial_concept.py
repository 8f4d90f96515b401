"""Tutorial 04 (tutorials/04-concept-neurons) end to end in its --tiny form (or --quick, for the slow test).

usage: test_tutorial_concept.py LAMINAR_EXE [--quick]

Runs `run.sh --tiny` (--quick) into a scratch folder and checks that every number of the README's table
is computed and every figure written, not that they match the paper:
  * it exits 0, prints the table, and writes the figures (PNG files) and results.json;
  * every number in results.json is finite, fractions and accuracies lie in [0, 1], counts in [0, units];
  * the DSC joint codes saved for the analyses are the P1 codes Laminar recorded, item by item (the
    ActivityRecorder's samples reordered by the Items recorder), and the FFA codes have the joint size;
  * numbers recomputed here from the saved codes with numpy equal results.json: fraction nonzero, the
    multimodal count at theta = 0.5 (from the per-class means, the criterion written out again here),
    and the legibility of the generated names is the accuracy of a classifier, so it lies in [0, 1];
  * the missing modality really is missing: the name-only codes differ from the pair codes, and where
    the name was withheld the TextReconstruction recorder holds the generated name (inside a sane range);
  * `--from` (the analyses again on the run's codes, into a new folder) prints the same table, and
    refuses a folder that is not a finished run and an output folder that is not empty.
Skipped (exit 77) when PyTorch or scikit-learn is not installed.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np

import systest as st

ROOT = os.path.normpath(os.path.join(st.HERE, "..", ".."))
TUT = os.path.join(ROOT, "tutorials", "04-concept-neurons")
FIGURES = ("fig6_mean_activation.png", "fig7_single_modality.png", "fig8_activity_triggered_average.png",
           "fig9_tsne.png", "fig11_generation.png", "cell_types.png", "mean_activation_by_class.png", "energy.png")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    quick = "--quick" in argv[2:]
    try:
        import sklearn  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e.name} not installed (python3-sklearn, python3-torch)")
        return st.SKIP
    chk = st.Checker()
    with st.workdir() as tmp:
        out = os.path.join(tmp, "tutorial")
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
        proc = subprocess.run([os.path.join(TUT, "run.sh"), "--output", out, "--laminar", argv[1],
                               "--quick" if quick else "--tiny", "--threads", "1"], capture_output=True, text=True, env=env)
        print(proc.stdout[-3000:])
        if not chk.true("run.sh exits 0", proc.returncode == 0, proc.stderr[-3000:]):
            return chk.exit()
        chk.true("table printed", "| multimodal joint units (theta 0.5) |" in proc.stdout and "seconds per training pair" in proc.stdout)
        for png in FIGURES:
            p = os.path.join(out, png)
            chk.true(f"{png} written", os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n")
        res = json.load(open(os.path.join(out, "results.json")))
        chk.true("results.json lists the figures", sorted(res["figures"]) == sorted(FIGURES), str(res["figures"]))
        bad = [p for p, v in st.numbers(res) if not math.isfinite(v)]
        chk.true("every number in results.json is finite", not bad, ", ".join(bad[:5]))
        for m in ("dsc", "ffa"):
            r = res[m]
            units = r["multimodal"]["units"]
            chk.true(f"{m}: joint size {res['settings']['p1']}", units == res["settings"]["p1"])
            fracs = [r["multimodal"]["fraction"], r["knn_accuracy"], r["knn_accuracy_image_only"]]
            fracs += list(r["fraction_nonzero"].values()) + list(r["cross_modal"].values())
            fracs += [b["mean"] for b in r["best_single_unit"].values()]
            chk.true(f"{m}: fractions and accuracies in [0, 1]", all(0 <= v <= 1 for v in fracs), str(fracs))
            counts = list(r["cell_types"]["counts"].values())
            chk.true(f"{m}: cell types partition the units", sum(counts) == units and min(counts) >= 0, str(counts))
        chk.true("legibility numbers in [0, 1]", all(0 <= v <= 1 for v in res["legibility"].values()))
        chk.true("timings positive", all(v > 0 for v in res["timing"].values()), str(res["timing"]))

        z = np.load(os.path.join(out, "codes.npz"))
        y = z["y_test"]
        run = st.Run(os.path.join(out, "dsc-pairs"))
        items = run.probe("Items")["item"].ravel()
        _, code = run.recorder("JointCode")
        code = code.reshape(len(items), -1)
        want = np.zeros_like(code)
        want[items] = code
        chk.true("DSC pair codes = Laminar's recorded P1 codes, by item", np.array_equal(z["dsc_codes_pairs"], want))
        chk.true("FFA codes have the joint size", z["ffa_codes_pairs"].shape == (len(y), res["settings"]["p1"]))
        for m in ("dsc", "ffa"):
            fnz = float(np.mean(z[f"{m}_codes_pairs"] != 0))
            chk.close(f"{m}: fraction nonzero recomputed", res[m]["fraction_nonzero"]["pairs"], fnz, rtol=1e-12)
            # the multimodal criterion, written out again: class means per modality, scaled by the unit's largest
            ri = np.stack([z[f"{m}_codes_image_only"][y == c].mean(axis=0) for c in range(10)])
            rt = np.stack([z[f"{m}_codes_text_only"][y == c].mean(axis=0) for c in range(10)])
            s = np.maximum(ri.max(axis=0), rt.max(axis=0))
            both = (ri >= 0.5 * s) & (rt >= 0.5 * s) & (s > 0)
            chk.true(f"{m}: multimodal count recomputed", res[m]["multimodal"]["count"] == int(both.any(axis=0).sum()),
                     f"{res[m]['multimodal']['count']} vs {int(both.any(axis=0).sum())}")
        chk.true("DSC name-only codes differ from the pair codes",
                 not np.array_equal(z["dsc_codes_text_only"], z["dsc_codes_pairs"]))
        gen = st.Run(os.path.join(out, "dsc-image_only")).recorder("TextReconstruction")[1]
        chk.true("generated names (image only) in a sane range", np.abs(gen).max() < 10,
                 f"max |value| {np.abs(gen).max():.3g}")
        table = proc.stdout[proc.stdout.index("| |"):proc.stdout.index("\nwrote ")]
        again = subprocess.run([os.path.join(TUT, "run.sh"), "--from", out, "--output", os.path.join(tmp, "again")],
                               capture_output=True, text=True, env=env)
        chk.true("--from exits 0", again.returncode == 0, again.stderr[-2000:])
        chk.true("--from prints the same table", table in again.stdout, again.stdout[-1500:])
        for args, want in ((["--from", tmp, "--output", os.path.join(tmp, "x")], "no codes.npz here"),
                           (["--from", out, "--output", out], "not empty")):
            bad = subprocess.run([os.path.join(TUT, "run.sh")] + args, capture_output=True, text=True, env=env)
            chk.true(f"refused: {want}", bad.returncode != 0 and want in bad.stderr, bad.stderr[-500:])
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
