"""Tutorial 06 (tutorials/06-kernel-heterogeneity) end to end in its --tiny or --quick form.

usage: test_tutorial_kernel_heterogeneity.py LAMINAR_EXE [--quick]

Runs `run.sh --tiny` (--quick) into a scratch folder and checks that every number of the README's tables
is computed and every figure written, and recomputes what can be recomputed independently:
  * it exits 0, prints the tables, writes every figure (PNG) and results.json; every number is finite;
  * the pre-learning banks carry the presets' grids (homogeneous: 72 orientations x B_theta 12 deg x 2
    phases; heterogeneous: 12 x [3, 8.4, ..., 30] deg x 2), every dictionary has 144 unit-norm kernels,
    and (--quick) learning moved the two log-Gabor banks;
  * for the saved example photographs: sparseness (fraction of zeros of Laminar's recorded code) and PSNR
    (eq. 6, from a reconstruction computed here with scipy.signal.convolve2d per kernel, not with
    laminar.analysis) equal results.json's per-image values; the code at the largest pruning cutoff
    reconstructs to the saved pruned image;
  * the Mann-Whitney tests in results.json equal scipy's on results.json's own per-image values;
  * pruning raises sparseness monotonically; accuracies lie in [0, 100].
Skipped (exit 77) when PyTorch is not installed.
"""
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np

import systest as st

ROOT = os.path.normpath(os.path.join(st.HERE, "..", ".."))
TUT = os.path.join(ROOT, "tutorials", "06-kernel-heterogeneity")
FIGURES = ("fig2abc_dictionaries.png", "fig2d_sparseness_psnr.png", "fig3a_kernel_density.png",
           "fig3b_sparseness_by_b_theta.png", "fig3de_codes.png", "fig6a_pruning.png",
           "fig6b_pruned_reconstructions.png", "table1_accuracy.png", "learning_energy.png")
KEYS = ("hom_pre", "hom_post", "het_pre", "het_post", "rand_post")


def reconstruct(code, W):
    """sum_k d_k * a_k with Laminar's offset (kernel rows y-5 .. y+6 for 12x12), by scipy's 2-D convolution."""
    from scipy.signal import convolve2d
    h, w, k = code.shape
    p = W.shape[1]
    o = (p - 1) // 2
    full = sum(convolve2d(code[..., i], W[i, :, :, 0]) for i in range(k))   # (h + p - 1, w + p - 1)
    return full[o:o + h, o:o + w]


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    quick = "--quick" in argv[2:]
    try:
        import torch  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e.name} not installed (python3-torch)")
        return st.SKIP
    from scipy.stats import mannwhitneyu
    chk = st.Checker()
    with st.workdir() as tmp:
        out = os.path.join(tmp, "tutorial")
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("LAMINAR_TEST_THREADS", "1"))
        proc = subprocess.run([os.path.join(TUT, "run.sh"), "--output", out, "--laminar", argv[1],
                               "--quick" if quick else "--tiny", "--threads", "1"], capture_output=True, text=True,
                              env=env)
        print(proc.stdout[-4000:])
        if not chk.true("run.sh exits 0", proc.returncode == 0, proc.stderr[-3000:]):
            return chk.exit()
        chk.true("tables printed", "| dictionary | median sparseness |" in proc.stdout and "| encoding |" in proc.stdout)
        for png in FIGURES:
            p = os.path.join(out, png)
            chk.true(f"{png} written", os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n")
        res = json.load(open(os.path.join(out, "results.json")))
        chk.true("results.json lists the figures", sorted(res["figures"]) == sorted(FIGURES), str(res["figures"]))
        bad = [p for p, v in st.numbers(res) if not math.isfinite(v)]
        chk.true("every number in results.json is finite", not bad, ", ".join(bad[:5]))

        with h5py.File(os.path.join(out, "dictionaries.h5"), "r") as f:
            D = {k: np.asarray(f[k], np.float64) for k in KEYS}
            hom_b, het_b = np.asarray(f["hom_pre"].attrs["b_theta_deg"]), np.asarray(f["het_pre"].attrs["b_theta_deg"])
            hom_t, het_t = np.asarray(f["hom_pre"].attrs["theta0_deg"]), np.asarray(f["het_pre"].attrs["theta0_deg"])
        chk.true("homogeneous grid: 72 orientations x 12 deg x 2 phases",
                 np.allclose(hom_b, 12) and np.allclose(np.unique(hom_t), np.arange(72) * 2.5))
        chk.true("heterogeneous grid: 12 orientations x 6 B_theta x 2 phases",
                 np.allclose(np.unique(het_b), np.linspace(3, 30, 6)) and np.allclose(np.unique(het_t), np.arange(12) * 15)
                 and all(np.sum(np.isclose(het_b, b)) == 24 for b in np.linspace(3, 30, 6)))
        for k in KEYS:
            norms = np.sqrt((D[k] ** 2).sum(axis=(1, 2, 3)))
            chk.true(f"{k}: 144 unit-norm 12x12 kernels", D[k].shape == (144, 12, 12, 1) and np.allclose(norms, 1, atol=1e-4),
                     f"{D[k].shape}, norms {norms.min():.6f}..{norms.max():.6f}")
        if quick:  # (--tiny's 20-step codes are nearly empty: the Hebbian steps are too small to test)
            for post, pre in (("hom_post", "hom_pre"), ("het_post", "het_pre")):
                chk.true(f"learning moved {pre}", np.abs(D[post] - D[pre]).max() > 1e-3)

        nat = res["natural"]
        z = np.load(os.path.join(out, "examples.npz"))
        x = np.asarray(h5py.File(os.path.join(out, "data", "natural.h5"), "r")["images"], np.float64)
        for k in KEYS:
            code = z[f"{k}_code_0"].astype(np.float64)
            chk.close(f"{k}: example sparseness = fraction of zeros", nat[k]["sparseness"][0], float(np.mean(code == 0)),
                      rtol=1e-9)
            rec = reconstruct(code, D[k])
            psnr = 20 * np.log10(x[0].max()) - 10 * np.log10(np.mean((x[0] - rec) ** 2))
            chk.close(f"{k}: example PSNR recomputed (eq. 6)", nat[k]["psnr"][0], psnr, rtol=1e-4)
            cut = nat[k]["pruning"]["cutoffs"][-1]
            pruned = reconstruct(np.where(np.abs(code) < cut, 0, code), D[k])
            chk.close(f"{k}: pruned reconstruction at c = {cut:.3g}", float(np.abs(z[f"{k}_pruned_0"][-1] - pruned).max()),
                      0.0, atol=1e-4)
            sp = np.asarray(nat[k]["pruning"]["sparseness"])
            chk.true(f"{k}: pruning raises sparseness monotonically", np.all(np.diff(sp, axis=0) >= 0))
            chk.true(f"{k}: sparseness in [0, 1]", all(0 <= v <= 1 for v in nat[k]["sparseness"]))
        for t in res["u_tests"]:
            want = mannwhitneyu(nat[t["a"]][t["what"]], nat[t["b"]][t["what"]], alternative="two-sided")
            chk.close(f"U test {t['what']} {t['a']} vs {t['b']}", t["U"], float(want.statistic), rtol=1e-12)
        accs = [v for p, v in st.numbers(res["table1"]) if p.endswith(".mean")]
        chk.true("table 1 accuracies in [0, 100]", accs and all(0 <= a <= 100 for a in accs), str(accs))
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
