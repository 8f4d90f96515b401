"""Unit tests of laminar.analysis on small synthetic codes whose answers are known by construction
or computed by hand (or by naive loops written from the definitions)."""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from laminar import analysis as an  # noqa: E402


def naive_information(bin_index, stimuli):
    """I(s,R) = sum_r P(r|s) log2(P(r|s)/P(r)) for one unit, by counting, from given bin indices."""
    out = {}
    n = len(stimuli)
    for s in sorted(set(stimuli.tolist())):
        sel = stimuli == s
        total = 0.0
        for r in set(bin_index.tolist()):
            p_rs = np.mean(bin_index[sel] == r)
            p_r = np.sum(bin_index == r) / n
            if p_rs > 0:
                total += p_rs * math.log2(p_rs / p_r)
        out[s] = total
    return out


class FractionNonzero(unittest.TestCase):
    def test_counts(self):
        a = np.array([[0.0, 1.0, 0.0, -2.0], [0.0, 0.05, 3.0, 0.0]])
        self.assertAlmostEqual(an.fraction_nonzero(a), 4 / 8)
        self.assertAlmostEqual(an.fraction_nonzero(a, eps=0.1), 3 / 8)
        np.testing.assert_allclose(an.fraction_nonzero(a, per_unit=True), [0.0, 1.0, 0.5, 0.5])

    def test_rejects_1d(self):
        with self.assertRaises(ValueError):
            an.fraction_nonzero(np.zeros(5))


class ActivityTriggeredAverage(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.labels = np.repeat(np.arange(4), 10)
        self.x = rng.normal(size=(40, 2, 3))
        ind = (self.labels == 2).astype(float)
        w = np.zeros(40)
        w[[0, 5]] = [1.0, 3.0]
        self.codes = np.stack([ind, 2.5 * ind, np.zeros(40), w], axis=1)

    def test_known_answers(self):
        ata = an.activity_triggered_average(self.codes, self.x)
        self.assertEqual(ata.shape, (4, 2, 3))
        class2 = self.x[self.labels == 2].mean(axis=0)
        np.testing.assert_allclose(ata[0], class2, rtol=1e-12)
        np.testing.assert_allclose(ata[1], class2, rtol=1e-12)          # scale of activation cancels
        self.assertTrue(np.isnan(ata[2]).all())                         # silent unit
        np.testing.assert_allclose(ata[3], (self.x[0] + 3 * self.x[5]) / 4, rtol=1e-12)

    def test_dict_inputs(self):
        text = np.arange(40 * 5, dtype=float).reshape(40, 5)
        ata = an.activity_triggered_average(self.codes, {"image": self.x, "text": text})
        self.assertEqual(set(ata), {"image", "text"})
        self.assertEqual(ata["text"].shape, (4, 5))
        np.testing.assert_allclose(ata["text"][3], (text[0] + 3 * text[5]) / 4)

    def test_item_mismatch(self):
        with self.assertRaises(ValueError):
            an.activity_triggered_average(self.codes, self.x[:30])


class MeanActivationByClass(unittest.TestCase):
    def test_means(self):
        codes = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [7.0, 8.0]])
        labels = np.array(["b", "a", "b", "a"])
        classes, means = an.mean_activation_by_class(codes, labels)
        self.assertEqual(list(classes), ["a", "b"])
        np.testing.assert_allclose(means, [[5.0, 5.0], [3.0, 2.0]])
        classes, means = an.mean_activation_by_class(codes, labels, classes=["b", "z"])
        np.testing.assert_allclose(means[0], [3.0, 2.0])
        self.assertTrue(np.isnan(means[1]).all())

    def test_label_mismatch_message(self):
        with self.assertRaisesRegex(ValueError, "codes has 4 items but labels has 3"):
            an.mean_activation_by_class(np.zeros((4, 2)), [0, 1, 2])


class SingleCellInformation(unittest.TestCase):
    def test_selective_constant_and_random_units(self):
        rng = np.random.default_rng(0)
        stim = np.repeat(np.arange(10), 200)                            # 10 equiprobable stimuli
        selective = (stim == 3).astype(float)                           # 0 on 90% of the items
        constant = np.full(len(stim), 0.7)
        noise = rng.random(len(stim))
        order, info = an.single_cell_information(np.stack([selective, constant, noise], 1), stim,
                                                 return_stimuli=True)
        np.testing.assert_array_equal(order, np.arange(10))
        self.assertEqual(info.shape, (10, 3))
        self.assertAlmostEqual(info[3, 0], math.log2(10), places=12)    # 3.3219 bits
        others = np.delete(info[:, 0], 3)
        np.testing.assert_allclose(others, math.log2(1 / 0.9), rtol=1e-12)   # 0.1520 bits
        np.testing.assert_array_equal(info[:, 1], 0.0)
        self.assertTrue(np.all(info[:, 2] >= 0))                        # a KL divergence
        self.assertLess(info[:, 2].max(), 0.08)                         # only the sampling bias

    def test_quantile_bins_equally_populated_without_ties(self):
        # responses = rank; stimulus = decile of the rank: each stimulus fills exactly one bin
        r = np.random.default_rng(2).permutation(100).astype(float)
        stim = (r // 10).astype(int)
        info = an.single_cell_information(r[:, None], stim, bins=10)
        np.testing.assert_allclose(info[:, 0], math.log2(10), rtol=1e-12)
        # 5 bins: two stimuli per bin, P(r|s) = 1, P(r) = 0.2
        info = an.single_cell_information(r[:, None], stim, bins=5)
        np.testing.assert_allclose(info[:, 0], math.log2(5), rtol=1e-12)

    def test_ties_share_a_bin(self):
        # a tied block straddling a quantile boundary stays whole in the lower bin
        r = np.array([0.0] * 6 + [1.0, 2.0, 3.0, 4.0])
        stim = np.array([0, 0, 0, 1, 1, 1, 0, 1, 0, 1])
        info = an.single_cell_information(r[:, None], stim, bins=2)
        # bins: ranks 0-4 -> bin 0 and ranks 5-9 -> bin 1, but the zeros (ranks 0-5) are all bin 0
        b = np.array([0] * 6 + [1] * 4)
        expect = naive_information(b, stim)
        np.testing.assert_allclose(info[:, 0], [expect[0], expect[1]], rtol=1e-12)
        self.assertAlmostEqual(info[0, 0], 0.0, places=12)              # each stimulus: 3 zeros, 2 higher

    def test_worked_example_uniform_bins(self):
        # Eguchi et al. 2020's worked example: 4 stimuli x 100 presentations, 3 uniform bins
        # (0-1/3, 1/3-2/3, 2/3-1); the top bin holds 106/400 items and 80% of stimulus A.
        table = {"A": (5, 15, 80), "B": (40, 50, 10), "C": (50, 40, 10), "D": (60, 34, 6)}
        value = (0.1, 0.5, 0.9)
        r, stim = [], []
        for s, counts in table.items():
            for b, c in enumerate(counts):
                r += [value[b]] * c
                stim += [s] * c
        r, stim = np.array(r), np.array(stim)
        p_low, p_mid, p_high = 155 / 400, 139 / 400, 106 / 400
        partial_a = 0.8 * math.log2(0.8 / p_high)
        self.assertAlmostEqual(partial_a, 1.2752061122593306, places=12)     # hand: 0.8*log2(3.0189)
        hand_a = 0.05 * math.log2(0.05 / p_low) + 0.15 * math.log2(0.15 / p_mid) + partial_a
        hand_b = 0.40 * math.log2(0.40 / p_low) + 0.50 * math.log2(0.50 / p_mid) + 0.10 * math.log2(0.10 / p_high)
        hand_d = 0.60 * math.log2(0.60 / p_low) + 0.34 * math.log2(0.34 / p_mid) + 0.06 * math.log2(0.06 / p_high)
        self.assertAlmostEqual(hand_a, 0.9456887251727385, places=12)
        order, info = an.single_cell_information(r[:, None], stim, bins=3, binning="uniform",
                                                 value_range=(0.0, 1.0), return_stimuli=True)
        self.assertEqual(list(order), ["A", "B", "C", "D"])
        np.testing.assert_allclose(info[[0, 1, 3], 0], [hand_a, hand_b, hand_d], rtol=1e-12)
        # the same bins from the unit's own range once its responses reach 0 and 1
        r2 = r.copy()
        r2[np.flatnonzero(r == 0.1)[0]], r2[np.flatnonzero(r == 0.9)[0]] = 0.0, 1.0
        info2 = an.single_cell_information(r2[:, None], stim, bins=3, binning="uniform")
        np.testing.assert_allclose(info2, info, rtol=1e-12)

    def test_matches_naive_counting(self):
        rng = np.random.default_rng(5)
        stim = rng.integers(0, 4, 300)                                  # unequal stimulus counts
        r = np.round(rng.random((300, 3)) * 3 + stim[:, None] * [0.0, 0.5, 1.0], 1)
        info = an.single_cell_information(r, stim, bins=4, binning="uniform")
        for u in range(3):
            lo, hi = r[:, u].min(), r[:, u].max()
            b = np.minimum(np.floor((r[:, u] - lo) / (hi - lo) * 4), 3).astype(int)
            expect = naive_information(b, stim)
            np.testing.assert_allclose(info[:, u], [expect[s] for s in range(4)], rtol=1e-10, atol=1e-14)
        self.assertGreater(info[:, 2].mean(), info[:, 0].mean() + 0.3)   # unit 2 tracks the stimulus

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            an.single_cell_information(np.zeros((5, 2)), [0, 1, 0, 1], bins=2)
        with self.assertRaises(ValueError):
            an.single_cell_information(np.zeros((4, 2)), [0, 1, 0, 1], binning="log")


class ClassifyUnits(unittest.TestCase):
    # 3 stimuli x 5 units; threshold 0.5 bits in both modalities
    IMAGE = np.array([[0.9, 0.1, 0.8, 0.7, 0.1],
                      [0.1, 0.2, 0.1, 0.1, 0.5],
                      [0.0, 0.1, 0.2, 0.1, 0.2]])
    TEXT = np.array([[0.1, 0.0, 0.6, 0.1, 0.2],
                     [0.2, 0.9, 0.1, 0.1, 0.1],
                     [0.1, 0.1, 0.9, 0.8, 0.0]])

    def test_four_types(self):
        labels, counts = an.classify_units(self.IMAGE, self.TEXT, thresholds=(0.5, 0.5))
        self.assertEqual(list(labels), ["image", "text", "consistent", "inconsistent", "none"])
        self.assertEqual(counts, {"image": 1, "text": 1, "consistent": 1, "inconsistent": 1, "none": 1})

    def test_threshold_is_strict_and_per_modality(self):
        # unit 4's 0.5 bits on images only "reach" the threshold; 0.45 lets it in
        labels, _ = an.classify_units(self.IMAGE, self.TEXT, thresholds=(0.45, 0.5))
        self.assertEqual(labels[4], "image")
        # a high text threshold turns unit 2 (text 0.9 on stimulus 2 only) inconsistent and unit 3
        # (text 0.8) image-only
        labels, _ = an.classify_units(self.IMAGE, self.TEXT, thresholds=(0.5, 0.85))
        self.assertEqual(list(labels), ["image", "text", "inconsistent", "image", "none"])

    def test_percentile_thresholds(self):
        ti = an.information_threshold(self.IMAGE, 80)
        tt = an.information_threshold(self.TEXT, 80)
        self.assertAlmostEqual(ti, np.percentile(self.IMAGE, 80))
        # 15 values, linear interpolation at sorted position 0.8 * 14 = 11.2:
        self.assertAlmostEqual(ti, 0.5 + 0.2 * (0.7 - 0.5), places=12)  # sorted[11], [12] = 0.5, 0.7
        self.assertAlmostEqual(tt, 0.6 + 0.2 * (0.8 - 0.6), places=12)  # sorted[11], [12] = 0.6, 0.8
        a, ca = an.classify_units(self.IMAGE, self.TEXT, thresholds="percentile80")
        b, cb = an.classify_units(self.IMAGE, self.TEXT, thresholds=(ti, tt))
        np.testing.assert_array_equal(a, b)
        self.assertEqual(ca, cb)
        with self.assertRaises(ValueError):
            an.classify_units(self.IMAGE, self.TEXT, thresholds="p80")
        with self.assertRaises(ValueError):
            an.classify_units(self.IMAGE, self.TEXT[:, :4])


class MultimodalUnits(unittest.TestCase):
    def test_criterion(self):
        labels = np.repeat(np.arange(6), 5)
        n = len(labels)
        img, txt = np.zeros((n, 5)), np.zeros((n, 5))
        img[labels == 2, 0], txt[labels == 2, 0] = 1.0, 0.8      # both modalities of class 2
        img[labels == 1, 1] = 2.0                                # images only
        # unit 2 silent
        img[labels == 1, 3], txt[labels == 5, 3] = 1.0, 1.0      # images of 1, texts of 5
        img[labels == 4, 4], txt[labels == 4, 4] = 1.0, 0.6      # text response at 0.6 of the scale
        img[labels == 0, 4] = 0.3
        mm = an.multimodal_units(img, txt, labels)
        np.testing.assert_array_equal(mm.mask, [True, False, False, False, True])
        self.assertEqual(mm.count, 2)
        self.assertAlmostEqual(mm.fraction, 0.4)
        self.assertEqual(mm.counts_by_threshold, {0.25: 2, 0.5: 2, 0.75: 1})
        np.testing.assert_array_equal(mm.silent, [False, False, True, False, False])
        np.testing.assert_array_equal(mm.preferred_index, [2, -1, -1, -1, 4])   # -1: no class in both
        self.assertEqual(mm.preferred_class[0], 2)
        self.assertEqual(mm.preferred_class[4], 4)
        np.testing.assert_allclose(mm.scale, [1.0, 2.0, 0.0, 1.0, 1.0])
        self.assertAlmostEqual(mm.R_text[2, 0], 0.8)
        self.assertEqual(mm.R_image.shape, (6, 5))
        strict = an.multimodal_units(img, txt, labels, threshold=0.75)
        np.testing.assert_array_equal(strict.mask, [True, False, False, False, False])

    def test_selectivity(self):
        labels = np.repeat(np.arange(5), 4)
        n = len(labels)
        img, txt = np.ones((n, 3)), np.ones((n, 3))              # unit 0: the same response to everything
        img[:, 1], txt[:, 1] = 0.1, 0.1                          # unit 1: a concept unit for class 3
        img[labels == 3, 1], txt[labels == 3, 1] = 1.0, 0.9
        img[:, 2], txt[:, 2] = 0.5, 0.5                          # unit 2: class 0 stands out, 1.5x the rest
        img[labels == 0, 2], txt[labels == 0, 2] = 0.75, 0.75
        plain = an.multimodal_units(img, txt, labels)
        np.testing.assert_array_equal(plain.mask, [True, True, True])   # every unit responds to both
        sel = an.multimodal_units(img, txt, labels, selectivity=2.0)
        np.testing.assert_array_equal(sel.mask, [False, True, False])   # only the class-selective one
        self.assertEqual(sel.counts_by_threshold, {0.25: 1, 0.5: 1, 0.75: 1})
        np.testing.assert_array_equal(an.multimodal_units(img, txt, labels, selectivity=1.4).mask,
                                      [False, True, True])              # 0.75 >= 1.4 x 0.5

    def test_shapes(self):
        with self.assertRaisesRegex(ValueError, "codes_image_only has 10 items but labels has 9"):
            an.multimodal_units(np.zeros((10, 3)), np.zeros((10, 3)), np.zeros(9))
        with self.assertRaises(ValueError):
            an.multimodal_units(np.zeros((10, 3)), np.zeros((10, 4)), np.zeros(10))


class BestSingleUnit(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(3)
        self.labels = np.repeat(np.arange(4), 100)
        self.codes = np.maximum(rng.normal(size=(400, 20)), 0)
        self.codes[:, 7] = (self.labels == 2).astype(float)     # an exact indicator of class 2

    def test_indicator_unit_found(self):
        res = an.best_single_unit_accuracy(self.codes, self.labels, seed=0)
        self.assertIn("split", res["split"])
        self.assertEqual([d["class"] for d in res["per_class"]], [0, 1, 2, 3])
        c2 = res["per_class"][2]
        self.assertEqual(c2["unit"], 7)
        self.assertAlmostEqual(c2["threshold"], 0.5)
        self.assertEqual(c2["fit_balanced_accuracy"], 1.0)
        self.assertEqual(c2["test_balanced_accuracy"], 1.0)
        for d in (res["per_class"][i] for i in (0, 1, 3)):      # noise units: chance on held-out data
            self.assertNotEqual(d["unit"], 7)
            self.assertLess(abs(d["test_balanced_accuracy"] - 0.5), 0.12)
        self.assertAlmostEqual(res["mean_test_balanced_accuracy"],
                               np.mean([d["test_balanced_accuracy"] for d in res["per_class"]]))

    def test_given_test_set_and_brute_force(self):
        rng = np.random.default_rng(4)
        fit = np.round(rng.random((60, 6)) * 4) / 4             # many ties
        y = rng.integers(0, 3, 60)
        res = an.best_single_unit_accuracy(fit, y, codes_test=self.codes[:, :6],
                                           labels_test=self.labels % 3)
        self.assertEqual(res["split"], "given")
        for d in res["per_class"]:
            truth = y == d["class"]
            best = max(an._balanced_accuracy(fit[:, u] > t, truth)
                       for u in range(6) for t in np.unique(fit[:, u]))
            self.assertAlmostEqual(d["fit_balanced_accuracy"], best, places=12)
            pred = fit[:, d["unit"]] > d["threshold"]
            self.assertAlmostEqual(an._balanced_accuracy(pred, truth), best, places=12)
            test_truth = (self.labels % 3) == d["class"]
            self.assertAlmostEqual(d["test_balanced_accuracy"], an._balanced_accuracy(
                self.codes[:, d["unit"]] > d["threshold"], test_truth), places=12)
        with self.assertRaises(ValueError):
            an.best_single_unit_accuracy(fit, y, codes_test=self.codes[:, :6])


def clusters(n_per=40, n_classes=3, dim=10, sep=20.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per)
    centres = rng.normal(size=(n_classes, dim)) * sep
    return centres[labels] + rng.normal(size=(len(labels), dim)), labels


class EmbeddingAndKnn(unittest.TestCase):
    def test_knn_separable_and_random(self):
        x, y = clusters()
        self.assertEqual(an.knn_accuracy(x, y), 1.0)
        rng = np.random.default_rng(1)
        noise, rand = rng.normal(size=(300, 10)), rng.integers(0, 3, 300)
        self.assertLess(abs(an.knn_accuracy(noise, rand) - 1 / 3), 0.12)

    def test_embeddings(self):
        x, y = clusters()
        pcs = an.embedding_2d(x, method="pca")
        self.assertEqual(pcs.shape, (120, 2))
        centred = x - x.mean(axis=0)
        var = np.linalg.svd(centred, compute_uv=False)[:2] ** 2 / (len(x) - 1)
        np.testing.assert_allclose(pcs.var(axis=0, ddof=1), var, rtol=1e-8)
        with self.assertRaisesRegex(ValueError, "same for all 40 items"):
            an.embedding_2d(np.zeros((40, 8)))                         # silent codes: an error, not a crash
        emb = an.embedding_2d(x, pca=5, perplexity=20)
        self.assertEqual(emb.shape, (120, 2))
        self.assertEqual(an.knn_accuracy(emb, y), 1.0)                  # clusters stay apart in 2-D
        small = an.embedding_2d(x[:12], perplexity=30)                  # perplexity capped for 12 items
        self.assertEqual(small.shape, (12, 2))
        with self.assertRaises(ValueError):
            an.embedding_2d(x, method="umap")


class CrossModalTransfer(unittest.TestCase):
    def codes(self, shared):
        rng = np.random.default_rng(7)
        labels = np.repeat(np.arange(5), 40)
        n = len(labels)
        pattern = np.zeros((5, 10))
        pattern[np.arange(5), 2 * np.arange(5)] = 1.0           # class c drives units 2c and 2c+1
        pattern[np.arange(5), 2 * np.arange(5) + 1] = 1.0
        img, txt = np.zeros((n, 20)), np.zeros((n, 20))
        img[:, :10] = pattern[labels] + 0.2 * rng.random((n, 10))
        cols = slice(0, 10) if shared else slice(10, 20)
        txt[:, cols] = 0.7 * pattern[labels] + 0.2 * rng.random((n, 10))
        return img, txt, labels

    def test_shared_units_transfer(self):
        res = an.cross_modal_transfer(*self.codes(shared=True))
        self.assertEqual(set(res), {"image_to_text", "text_to_image", "image_within", "text_within"})
        for k in res:
            self.assertGreater(res[k], 0.95, k)

    def test_disjoint_units_do_not_transfer(self):
        res = an.cross_modal_transfer(*self.codes(shared=False))
        self.assertGreater(res["image_within"], 0.95)
        self.assertGreater(res["text_within"], 0.95)
        self.assertLess(res["image_to_text"], 0.35)                     # chance is 0.2
        self.assertLess(res["text_to_image"], 0.35)

    def test_separate_text_labels(self):
        img, txt, labels = self.codes(shared=True)
        res = an.cross_modal_transfer(img, txt[::2], labels, labels_text=labels[::2])
        self.assertGreater(res["image_to_text"], 0.95)
        with self.assertRaisesRegex(ValueError, "codes_text_only has 100 items but labels_text has 200"):
            an.cross_modal_transfer(img, txt[::2], labels, labels_text=labels)


if __name__ == "__main__":
    unittest.main()


# ----------------------------------------------------------------- convolutional codes of images

def brute_reconstruct(codes, dictionary):
    """sum_k d_k * a_k by loops, from Laminar's rule: a[n, y, x, k] adds d[k, py, px] at pixel
    (y - floor((p_y - 1)/2) + py, x - floor((p_x - 1)/2) + px), dropped outside the image."""
    n, h, w, k = codes.shape
    _, py_, px_ = dictionary.shape[:3]
    oy, ox = -((py_ - 1) // 2), -((px_ - 1) // 2)
    out = np.zeros((n, h, w))
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for j in range(k):
                    a = codes[i, y, x, j]
                    if a == 0:
                        continue
                    for py in range(py_):
                        for px in range(px_):
                            yy, xx = y + oy + py, x + ox + px
                            if 0 <= yy < h and 0 <= xx < w:
                                out[i, yy, xx] += a * dictionary[j, py, px]
    return out


def eq3_kernel(n, theta0_deg, b_theta_deg, phase=0.0, f0=0.4, sigma_f=0.4):
    """A log-Gabor kernel n x n: eq. 3 evaluated on the n x n DFT grid (theta = atan2(-fy, fx)),
    times exp(i phase sign(cos(theta - theta0))) (phase 0: even, pi/2: odd), inverse DFT."""
    f = np.fft.fftfreq(n)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r, th = np.hypot(fx, fy), np.arctan2(-fy, fx)
    with np.errstate(divide="ignore"):
        radial = np.exp(-0.5 * np.log(r / f0) ** 2 / np.log(1 + sigma_f / f0) ** 2)
    radial[0, 0] = 0.0
    s = math.radians(b_theta_deg) / math.sqrt(2 * math.log(2))
    angular = np.exp((np.cos(2 * (th - math.radians(theta0_deg))) - 1) / (4 * s * s))  # eq. 3 / its peak
    g = radial * angular * np.exp(1j * phase * np.sign(np.cos(th - math.radians(theta0_deg))))
    return np.real(np.fft.ifft2(g))


class Psnr(unittest.TestCase):
    def test_hand_computed(self):
        src = np.array([[0.0, 0.5], [1.0, 0.25]])
        rec = src + np.array([[0.1, -0.1], [0.0, 0.0]])
        # max 1, mse (0.01 + 0.01)/4 = 0.005: 0 - 10 log10(0.005) = 23.0103 dB
        self.assertAlmostEqual(an.psnr(src, rec), -10 * math.log10(0.005), places=10)
        half = src * 0.5                   # max 0.5; the same error
        self.assertAlmostEqual(an.psnr(half, half + (rec - src)), 20 * math.log10(0.5) - 10 * math.log10(0.005), places=10)
        self.assertAlmostEqual(an.psnr(half, half + (rec - src), peak=1.0), -10 * math.log10(0.005), places=10)

    def test_batch_and_perfect(self):
        rng = np.random.default_rng(0)
        s = rng.random((3, 5, 4))
        r = s + 0.01 * rng.normal(size=s.shape)
        p = an.psnr(s, r)
        self.assertEqual(p.shape, (3,))
        for i in range(3):
            self.assertAlmostEqual(p[i], an.psnr(s[i], r[i]), places=12)
        self.assertEqual(an.psnr(s[0], s[0]), math.inf)
        with self.assertRaises(ValueError):
            an.psnr(s, r[:2])


class SparsenessAndPruning(unittest.TestCase):
    def test_sparseness(self):
        c = np.zeros((2, 2, 2, 2))
        c[0, 0, 0, 0] = 1.0
        c[1] = 1e-9
        c[1, 1, 1, 1] = 0.0
        np.testing.assert_allclose(an.sparseness(c), [7 / 8, 1 / 8])

    def test_prune(self):
        a = np.array([[-0.3, 0.05, 0.1, 0.0, 0.2]])
        np.testing.assert_array_equal(an.prune(a, 0.1), [[-0.3, 0.0, 0.1, 0.0, 0.2]])   # |a| == cutoff kept

    def test_pruning_curve_exact_tiny(self):
        d = np.zeros((1, 1, 1))
        d[0, 0, 0] = 1.0                   # a 1x1 identity kernel: reconstruction = the code itself
        codes = np.array([0.0, 0.002, 0.01, 0.1, 0.4, 0.9]).reshape(1, 1, 6, 1)
        src = codes[..., 0].copy()
        out = an.pruning_curve(codes, d, src, cutoffs=[0.001, 0.05, 0.5])
        np.testing.assert_allclose(out["cutoffs"], [0.001, 0.05, 0.5])
        np.testing.assert_allclose(out["sparseness"][:, 0], [1 / 6, 3 / 6, 5 / 6])
        self.assertGreater(out["psnr"][0, 0], 250.0)          # nothing pruned: exact up to FFT rounding
        mse = (0.002 ** 2 + 0.01 ** 2) / 6
        self.assertAlmostEqual(out["psnr"][1, 0], 20 * math.log10(0.9) - 10 * math.log10(mse), places=9)
        mse = (0.002 ** 2 + 0.01 ** 2 + 0.1 ** 2 + 0.4 ** 2) / 6
        self.assertAlmostEqual(out["psnr"][2, 0], 20 * math.log10(0.9) - 10 * math.log10(mse), places=9)
        np.testing.assert_allclose(an.pruning_curve(codes, d, src)["cutoffs"], np.geomspace(0.001, 0.5, 6))

    def test_pruning_monotone(self):
        rng = np.random.default_rng(3)
        d = rng.normal(size=(4, 5, 5))
        codes = rng.laplace(scale=0.05, size=(2, 12, 12, 4)) * (rng.random((2, 12, 12, 4)) < 0.3)
        src = an.reconstruct(codes, d)
        out = an.pruning_curve(codes, d, src)
        self.assertTrue((np.diff(out["sparseness"], axis=0) >= 0).all())
        self.assertTrue((np.diff(out["psnr"][1:], axis=0) <= 1e-9).all())   # [0] may be +inf

    def test_per_kernel_grouped(self):
        c = np.zeros((1, 2, 2, 4))
        c[..., 0] = 1.0                               # kernel 0: never zero
        c[0, 0, 0, 1] = 1.0                           # kernel 1: 3/4 zero
        c[0, :, 0, 2] = 1.0                           # kernel 2: 1/2 zero;  kernel 3: all zero
        np.testing.assert_allclose(an.kernel_sparseness(c), [0, 0.75, 0.5, 1.0])
        g = an.sparseness_by_group(c, [12.0, 3.0, 12.0, 3.0])
        self.assertEqual(g["groups"], [3.0, 12.0])
        self.assertEqual(g["n_kernels"], [2, 2])
        np.testing.assert_allclose(g["mean"], [0.875, 0.25])
        np.testing.assert_allclose(g["std"], [0.125, 0.25])
        import json
        json.dumps(g)
        with self.assertRaises(ValueError):
            an.sparseness_by_group(c, [1.0, 2.0])


class Reconstruct(unittest.TestCase):
    def test_against_brute_force(self):
        rng = np.random.default_rng(7)
        for p_y, p_x in ((12, 12), (5, 5), (4, 7), (1, 1)):
            d = rng.normal(size=(3, p_y, p_x))
            codes = rng.normal(size=(2, 9, 11, 3)) * (rng.random((2, 9, 11, 3)) < 0.4)
            np.testing.assert_allclose(an.reconstruct(codes, d), brute_reconstruct(codes, d), atol=1e-10)
        np.testing.assert_allclose(an.reconstruct(codes[0], d[..., None]), brute_reconstruct(codes, d)[0], atol=1e-10)

    def test_offset_of_a_12x12_kernel(self):
        d = np.zeros((1, 12, 12))
        d[0, 0, 0] = 1.0                                # the kernel's first row/column ...
        d[0, 11, 11] = 2.0                              # ... and its last
        codes = np.zeros((1, 20, 20, 1))
        codes[0, 10, 10, 0] = 1.0
        r = an.reconstruct(codes, d)
        self.assertEqual(an.conv_offset(12), -5)
        self.assertEqual(r[0, 5, 5], 1.0)               # y - 5
        self.assertEqual(r[0, 16, 16], 2.0)             # y + 6
        self.assertEqual(np.count_nonzero(np.round(r, 12)), 2)

    def test_features(self):
        rng = np.random.default_rng(2)
        d = rng.normal(size=(2, 3, 3, 2))
        codes = rng.normal(size=(1, 6, 6, 2))
        r = an.reconstruct(codes, d)
        self.assertEqual(r.shape, (1, 6, 6, 2))
        for f in range(2):
            np.testing.assert_allclose(r[..., f], brute_reconstruct(codes, d[..., f]), atol=1e-10)


class OrientationFit(unittest.TestCase):
    THETAS = (0.0, 17.0, 45.0, 90.0, 133.0, 171.5)

    def fit(self, n, b_theta):
        k = np.stack([eq3_kernel(n, t, b_theta, ph) for t in self.THETAS for ph in (0.0, math.pi / 2)])
        out = an.orientation_bandwidth(k)
        err = np.abs((out["theta0"] - np.repeat(self.THETAS, 2) + 90) % 180 - 90)
        return err.max(), np.abs(out["b_theta"] / b_theta - 1).max()

    def test_on_a_64_grid(self):
        for b in (3, 6, 9, 12, 18, 24, 30):
            dth, rel = self.fit(64, b)
            self.assertLess(dth, 0.5, b)
            self.assertLess(rel, 0.02, b)

    def test_on_12x12_kernels(self):
        for b in (12, 18, 24, 30):
            dth, rel = self.fit(12, b)
            self.assertLess(dth, 2.0, b)
            self.assertLess(rel, 0.08, b)
        dth, rel = self.fit(12, 9)
        self.assertLess(dth, 2.0)
        self.assertLess(rel, 0.2)

    def test_convention_and_isotropic(self):
        x = np.arange(16)
        vertical_stripes = np.cos(2 * np.pi * 0.25 * x)[None, :].repeat(16, axis=0)   # varies along x
        horizontal = vertical_stripes.T
        out = an.orientation_bandwidth(np.stack([vertical_stripes, horizontal]))
        self.assertAlmostEqual(out["theta0"][0], 0.0, places=6)       # frequency along +x: theta 0
        self.assertAlmostEqual(out["theta0"][1], 90.0, places=6)      # along y: theta 90
        diag = np.cos(2 * np.pi * 0.25 * (x[None, :] - x[:, None]))   # rows grow downward: y up is -row
        self.assertAlmostEqual(an.orientation_bandwidth(diag)["theta0"][0], 45.0, places=6)
        delta = np.zeros((9, 9))
        delta[4, 4] = 1.0
        self.assertGreater(an.orientation_bandwidth(delta)["b_theta"][0], 100.0)


class Kde(unittest.TestCase):
    def test_wraps_at_180(self):
        t = np.array([1.0, 2.0, 178.0, 179.0, 0.5])
        b = np.array([10.0, 11.0, 10.0, 11.0, 10.5])
        tg, bg, dens = an.kde_2d(t, b, theta_grid=np.array([0.0, 90.0, 180.0]), b_grid=np.array([10.5]))
        self.assertEqual(dens.shape, (1, 3))
        self.assertAlmostEqual(dens[0, 0] / dens[0, 2], 1.0, places=12)    # 0 and 180 are the same angle
        self.assertLess(dens[0, 1], 1e-3 * dens[0, 0])
        # one cluster across the wrap: the same density as the cluster moved to 90 +- 2
        moved = an.kde_2d(np.mod(t - 90.0, 180.0), b, theta_grid=np.array([90.0]), b_grid=np.array([10.5]))[2]
        self.assertAlmostEqual(dens[0, 0] / moved[0, 0], 1.0, places=9)
        tg, bg, dens = an.kde_2d(t + 90.0, b, theta_grid=np.array([0.0, 90.0]), b_grid=np.array([10.5]))
        self.assertGreater(dens[0, 1], 1e3 * dens[0, 0])

    def test_integrates_to_one(self):
        rng = np.random.default_rng(5)
        t = rng.uniform(0, 180, 40)
        b = rng.uniform(3, 30, 40)
        tg, bg, dens = an.kde_2d(t, b, theta_grid=np.linspace(0, 180, 361)[:-1], b_grid=np.linspace(-40, 80, 601))
        self.assertAlmostEqual(dens.sum() * 0.5 * (bg[1] - bg[0]), 1.0, places=3)


class MannWhitney(unittest.TestCase):
    def test_hand_computed(self):
        r = an.mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
        # no pair has a > b: U = 0; exact two-sided p = 2 / C(6, 3) = 0.1
        self.assertEqual(r["U"], 0.0)
        self.assertAlmostEqual(r["p"], 0.1, places=12)
        self.assertEqual((r["median_a"], r["median_b"], r["n_a"], r["n_b"]), (2.0, 5.0, 3, 3))
        r = an.mann_whitney([1.0, 5.0, 7.0], [2.0, 3.0])
        self.assertEqual(r["U"], 4.0)                # pairs a > b: 5>2, 5>3, 7>2, 7>3
        import json
        json.dumps(r)
