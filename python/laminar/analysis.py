"""Analysis of learned codes: selectivity, single-cell information, multimodal units, decoding.

Every function takes codes as a numpy array [n_items, n_units] (one row per presented item, e.g. a
joint layer's settled activity flattened over space) and labels/stimuli as a length-n_items array.
For paired two-modality items, "image-only" codes are the joint layer's codes when only the image is
presented and "text-only" codes when only the text is; both arrays list the same items in the same
order. Everything is computed in float64; shapes are checked and mismatches raise ValueError.

    from laminar import analysis
    info_i = analysis.single_cell_information(codes_image_only, labels)      # [stimuli, units] bits
    info_t = analysis.single_cell_information(codes_text_only, labels)
    types, counts = analysis.classify_units(info_i, info_t, thresholds="percentile80")
    mm = analysis.multimodal_units(codes_image_only, codes_text_only, labels)
    mm.count, mm.counts_by_threshold

References: Kim, Hannan and Kenyon, "Deep sparse coding for invariant multimodal Halle Berry neurons"
(CVPR 2018): activity-triggered averages, units responding to both face and name, single-unit
classification. Rolls, Treves, Tovee & Panzeri, "Information in the neuronal representation of
individual stimuli in the primate temporal visual cortex" (J. Comput. Neurosci. 1997): single-cell
information. Eguchi, Horii, Nagai, Kanai & Oizumi, "An information theoretic approach to reveal the
formation of shared representations" (Front. Comput. Neurosci. 2020): the four cell types.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

CELL_TYPES = ("image", "text", "consistent", "inconsistent", "none")


def _codes(codes, name: str = "codes") -> np.ndarray:
    a = np.asarray(codes, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}")
    return a


def _labels(labels, n: int, codes_name: str = "codes", labels_name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{labels_name} must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{codes_name} has {n} items but {labels_name} has {len(y)}")
    return y


def fraction_nonzero(codes, eps: float = 0.0, per_unit: bool = False):
    """Fraction of active entries: mean over items (and units) of [|a_nu| > eps].

    Returns a float, or with per_unit=True an array [n_units] (the fraction of items on which each
    unit is active)."""
    a = _codes(codes)
    active = np.abs(a) > eps
    return active.mean(axis=0) if per_unit else float(active.mean())


def activity_triggered_average(codes, inputs: Union[np.ndarray, Mapping[str, np.ndarray]]):
    """Activation-weighted mean input of every unit (Kim et al. 2018, figure 8):

        ATA_u = sum_n a_nu x_n / sum_n a_nu

    `inputs` is an array [n_items, ...] or a dict {modality: array [n_items, ...]}; returns an
    array [n_units, ...] (or a dict of them). A unit whose total activation sum_n a_nu is 0 (a
    silent unit) gets NaN. The weights are used as given: for signed codes, pass np.maximum(codes, 0)
    or np.abs(codes) if positive and negative activations should not cancel."""
    a = _codes(codes)
    if isinstance(inputs, Mapping):
        return {k: activity_triggered_average(a, v) for k, v in inputs.items()}
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] != a.shape[0]:
        raise ValueError(f"codes has {a.shape[0]} items but inputs has shape {x.shape}")
    total = a.sum(axis=0)
    weighted = a.T @ x.reshape(x.shape[0], -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ata = weighted / total[:, None]
    ata[total == 0] = np.nan
    return ata.reshape((a.shape[1],) + x.shape[1:])


def mean_activation_by_class(codes, labels, classes=None) -> Tuple[np.ndarray, np.ndarray]:
    """R[c, u] = mean of codes[:, u] over the items with labels == classes[c].

    `classes` defaults to np.unique(labels) (sorted). Returns (classes, R [n_classes, n_units]);
    a class without items gets a row of NaN."""
    a = _codes(codes)
    y = _labels(labels, a.shape[0])
    classes = np.unique(y) if classes is None else np.asarray(classes)
    onehot = (y[None, :] == classes[:, None]).astype(np.float64)        # [classes, items]
    count = onehot.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (onehot @ a) / count[:, None]
    means[count == 0] = np.nan
    return classes, means


def _bin_responses(r: np.ndarray, bins: int, binning: str, value_range) -> np.ndarray:
    """Bin index [n, U] of every response, per unit (see single_cell_information)."""
    n = r.shape[0]
    if binning == "quantile":
        order = np.argsort(r, axis=0, kind="stable")
        s = np.take_along_axis(r, order, axis=0)
        new = np.ones(r.shape, dtype=bool)
        new[1:] = s[1:] != s[:-1]
        rank = np.arange(n)[:, None]
        first = np.maximum.accumulate(np.where(new, rank, 0), axis=0)    # rank of a value's first copy
        b = np.empty(r.shape, dtype=np.int64)
        np.put_along_axis(b, order, first * bins // n, axis=0)
        return b
    if binning == "uniform":
        if value_range is None:
            lo, hi = r.min(axis=0), r.max(axis=0)
        else:
            lo, hi = (np.full(r.shape[1], float(v)) for v in value_range)
        width = np.where(hi > lo, hi - lo, 1.0)
        return np.clip(np.floor((r - lo) / width * bins), 0, bins - 1).astype(np.int64)
    raise ValueError(f"binning must be 'quantile' or 'uniform', got {binning!r}")


def single_cell_information(responses, stimuli, bins: int = 10, binning: str = "quantile",
                            value_range: Optional[Tuple[float, float]] = None,
                            return_stimuli: bool = False):
    """Single-cell information of every unit about every stimulus, in bits (Rolls et al. 1997):

        I(s, R) = sum_r P(r|s) log2(P(r|s) / P(r))

    with r the unit's binned response, P(r|s) the fraction of presentations of s whose response
    falls in bin r, P(r) = sum_s P(s) P(r|s) the fraction of all items in bin r and P(s) the
    empirical stimulus frequencies; terms with P(r|s) = 0 contribute 0. Returns I [n_stimuli,
    n_units], rows in the order of np.unique(stimuli); with return_stimuli=True returns
    (stimuli_order, I).

    Binning, per unit, into `bins` bins:
      "quantile": equally populated bins by rank. The item of sorted rank i (0-based, n items) goes
        to bin floor(i * bins / n), except that tied values all take the bin of their first
        (lowest) rank, so equal responses always share a bin. Sparse codes with many exact zeros
        therefore get one "zero" bin holding all of them (a unit silent on 90% of items has its
        zeros in bin 0), the remaining bins are less than n/bins full or empty, and a constant unit
        has a single bin and carries 0 bits.
      "uniform": `bins` equally wide bins between the unit's min and max (or `value_range`, e.g.
        (0, 1) for sigmoid units), as in Eguchi et al. 2020 (3 bins 0-1/3, 1/3-2/3, 2/3-1); the max
        falls in the last bin; values outside value_range are clipped into the end bins.
    Plug-in estimates are biased upwards by about (bins - 1) / (2 n_s ln 2) bits for n_s
    presentations per stimulus, so a random unit shows a small positive value."""
    r = _codes(responses, "responses")
    y = _labels(stimuli, r.shape[0], "responses", "stimuli")
    if not np.isfinite(r).all():
        raise ValueError("responses contain NaN or infinite values")
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    bins = int(bins)
    order, s_idx = np.unique(y, return_inverse=True)
    n, n_units = r.shape
    b = _bin_responses(r, bins, binning, value_range)
    S = len(order)
    flat = (s_idx[:, None] * bins + b) * n_units + np.arange(n_units)[None, :]
    counts = np.bincount(flat.ravel(), minlength=S * bins * n_units).reshape(S, bins, n_units)
    counts = counts.astype(np.float64)
    p_r_s = counts / counts.sum(axis=1, keepdims=True)                   # [S, bins, U]
    p_r = counts.sum(axis=0) / n                                          # [bins, U]
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p_r_s > 0, p_r_s * np.log2(p_r_s / p_r[None]), 0.0)
    info = terms.sum(axis=1)
    return (order, info) if return_stimuli else info


def information_threshold(info, percentile: float = 80) -> float:
    """The `percentile`-th percentile of all entries of an information matrix [n_stimuli, n_units]
    (Eguchi et al. 2020 used the 80th percentile of the per-stimulus information of one modality)."""
    return float(np.percentile(np.asarray(info, dtype=np.float64), percentile))


def classify_units(info_image_only, info_text_only,
                   thresholds: Union[Tuple[float, float], str] = (0.96, 0.94)):
    """The four cell types of Eguchi et al. 2020, from single-cell information [n_stimuli, n_units]
    computed on image-only and on text-only codes (same stimuli, same order).

    A unit is selective to stimulus s in modality m when info_m[s, u] > threshold_m. Then:
      "image": selective to some stimulus with images only, to none with texts;
      "text": the reverse;
      "consistent": selective in both modalities, to at least one same stimulus;
      "inconsistent": selective in both, but never to the same stimulus;
      "none": selective in neither.
    `thresholds` = (image, text) in bits (the paper's 0.96, 0.94 were its visual and auditory 80th
    percentiles) or "percentileP" (e.g. "percentile80"): information_threshold(info_m, P) per
    modality. Returns (labels [n_units] of strings, counts {type: int} over CELL_TYPES)."""
    ii = _codes(info_image_only, "info_image_only")
    it = _codes(info_text_only, "info_text_only")
    if ii.shape != it.shape:
        raise ValueError(f"info_image_only has shape {ii.shape} but info_text_only has {it.shape}")
    if isinstance(thresholds, str):
        m = re.fullmatch(r"percentile(\d+(?:\.\d*)?)", thresholds)
        if not m:
            raise ValueError(f"thresholds must be (image, text) or 'percentileP', got {thresholds!r}")
        p = float(m.group(1))
        t_i, t_t = information_threshold(ii, p), information_threshold(it, p)
    else:
        t_i, t_t = (float(t) for t in thresholds)
    sel_i, sel_t = ii > t_i, it > t_t
    any_i, any_t, same = sel_i.any(axis=0), sel_t.any(axis=0), (sel_i & sel_t).any(axis=0)
    labels = np.full(ii.shape[1], "none", dtype="<U12")
    labels[any_i & ~any_t] = "image"
    labels[any_t & ~any_i] = "text"
    labels[any_i & any_t & same] = "consistent"
    labels[any_i & any_t & ~same] = "inconsistent"
    return labels, {k: int(np.sum(labels == k)) for k in CELL_TYPES}


@dataclass
class MultimodalUnits:
    """Result of multimodal_units; arrays are per unit unless said otherwise."""
    classes: np.ndarray             # [n_classes], the rows of R_image / R_text
    R_image: np.ndarray             # [n_classes, n_units] mean image-only code per class
    R_text: np.ndarray              # [n_classes, n_units] mean text-only code per class
    scale: np.ndarray               # s_u = max over modality and class of R
    silent: np.ndarray              # s_u <= 0
    threshold: float
    mask: np.ndarray                # multimodal at `threshold`
    count: int
    fraction: float                 # count / n_units
    counts_by_threshold: Dict[float, int]
    preferred_index: np.ndarray     # argmax_c min(Rn_image[c], Rn_text[c]); -1 where that max is 0
    preferred_class: np.ndarray     # classes[preferred_index]; meaningful only where preferred_index >= 0


def multimodal_units(codes_image_only, codes_text_only, labels,
                     thresholds: Sequence[float] = (0.25, 0.5, 0.75),
                     threshold: float = 0.5, selectivity: Optional[float] = None) -> MultimodalUnits:
    """Units that respond to both modalities of one class ("respond to both face and name",
    Kim et al. 2018), by this criterion:

        R_m[c, u] = mean of codes_m[:, u] over the items of class c   (m = image, text)
        s_u = max over m and c of R_m[c, u]; units with s_u <= 0 are silent, never multimodal
        u responds to class c in modality m at theta when R_m[c, u] >= theta * s_u
        u is multimodal at theta when some class c has a response in both modalities.

    With `selectivity` k (e.g. 2), a response must also be class-selective: R_m[c, u] >= k times the
    mean of R_m[c', u] over the other classes c' in that modality, so a unit that responds to every
    class alike (a broad, non-selective unit) is not counted; without it such a unit counts, since it
    does respond to both modalities of each class.

    Both code arrays hold the same items in the same order and share `labels`. Meant for
    non-negative (rectified or sparse) codes. Returns a MultimodalUnits with the mask and count at
    `threshold`, the counts at every theta of `thresholds` (robustness of the count), and the
    preferred class argmax_c min(Rn_image[c, u], Rn_text[c, u]) with Rn = R / s_u (index -1 when
    no class drives the unit in both modalities, i.e. that max is <= 0, e.g. silent units)."""
    ci, ct = _codes(codes_image_only, "codes_image_only"), _codes(codes_text_only, "codes_text_only")
    if ci.shape != ct.shape:
        raise ValueError(f"codes_image_only has shape {ci.shape} but codes_text_only has {ct.shape}")
    y = _labels(labels, ci.shape[0], "codes_image_only")
    classes, Ri = mean_activation_by_class(ci, y)
    _, Rt = mean_activation_by_class(ct, y, classes)
    scale = np.maximum(Ri.max(axis=0), Rt.max(axis=0))
    silent = ~(scale > 0)
    safe = np.where(silent, 1.0, scale)
    Rni, Rnt = Ri / safe, Rt / safe
    if selectivity is None:
        selective = np.ones(Ri.shape, dtype=bool)
    else:
        k = len(classes)
        if k < 2:
            raise ValueError("selectivity needs at least two classes")
        def sel(R):
            others = (R.sum(axis=0, keepdims=True) - R) / (k - 1)
            return (R >= float(selectivity) * others) & (R > 0)
        selective = sel(Ri) & sel(Rt)

    def mask_at(theta: float) -> np.ndarray:
        return ((Rni >= theta) & (Rnt >= theta) & selective).any(axis=0) & ~silent

    both = np.minimum(Rni, Rnt)
    pref = np.where(silent | ~(both.max(axis=0) > 0), -1, np.argmax(both, axis=0))
    mask = mask_at(threshold)
    U = ci.shape[1]
    return MultimodalUnits(classes=classes, R_image=Ri, R_text=Rt, scale=scale, silent=silent,
                           threshold=float(threshold), mask=mask, count=int(mask.sum()),
                           fraction=float(mask.sum()) / U if U else 0.0,
                           counts_by_threshold={float(t): int(mask_at(t).sum()) for t in thresholds},
                           preferred_index=pref, preferred_class=classes[np.maximum(pref, 0)])


def _balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """(TPR + TNR) / 2; NaN when either class is absent."""
    pos, neg = truth.sum(), (~truth).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    return 0.5 * ((pred & truth).sum() / pos + (~pred & ~truth).sum() / neg)


def best_single_unit_accuracy(codes, labels, codes_test=None, labels_test=None, seed: int = 0) -> dict:
    """Best one-unit, one-threshold detector of each class ("threshold the activation of one unit",
    Kim et al. 2018).

    For each class c the detector "a_u > t" is chosen on the fit set to maximise the balanced
    accuracy BA = (TPR + TNR) / 2 of class c against the rest, over all units u and all thresholds t
    at the midpoints between the unit's consecutive distinct values (ties: lowest unit, lowest t);
    its BA is then measured on the held-out set. Without codes_test/labels_test the data are split
    in half (stratified by class, seeded by `seed`: sklearn train_test_split).

    Returns {"per_class": [{"class", "unit", "threshold", "fit_balanced_accuracy",
    "test_balanced_accuracy"}, ...] in np.unique(labels) order, "mean_test_balanced_accuracy",
    "mean_fit_balanced_accuracy", "split": "given" or a description of the split}."""
    a = _codes(codes)
    y = _labels(labels, a.shape[0])
    if (codes_test is None) != (labels_test is None):
        raise ValueError("give both codes_test and labels_test, or neither")
    if codes_test is None:
        from sklearn.model_selection import train_test_split
        fit, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
        a, y, at, yt = a[fit], y[fit], a[test], y[test]
        split = f"stratified half split of the given items (seed={seed})"
    else:
        at = _codes(codes_test, "codes_test")
        yt = _labels(labels_test, at.shape[0], "codes_test", "labels_test")
        if at.shape[1] != a.shape[1]:
            raise ValueError(f"codes has {a.shape[1]} units but codes_test has {at.shape[1]}")
        split = "given"
    n = a.shape[0]
    order = np.argsort(a, axis=0, kind="stable")
    s = np.take_along_axis(a, order, axis=0)                              # sorted values [n, U]
    valid = s[1:] > s[:-1]                                                # cut between k-1 and k
    mids = 0.5 * (s[1:] + s[:-1])
    per_class = []
    for c in np.unique(y):
        yc = (y == c)[order]                                              # [n, U] sorted by unit
        P, N = yc[:, 0].sum(), n - yc[:, 0].sum()
        below_pos = np.cumsum(yc, axis=0)[:-1]                            # positives among first k
        below_neg = np.arange(1, n)[:, None] - below_pos
        ba = 0.5 * ((P - below_pos) / max(P, 1) + below_neg / max(N, 1))
        ba = np.where(valid, ba, -np.inf)
        if not np.isfinite(ba).any():                                     # every unit constant
            u, t, fit_ba = 0, float(s[-1, 0]), 0.5                          # a detector that never fires
        else:
            u, k = np.unravel_index(np.argmax(ba.T), ba.T.shape)          # lowest unit, then lowest t
            t, fit_ba = float(mids[k, u]), float(ba[k, u])
        per_class.append({"class": c, "unit": int(u), "threshold": t, "fit_balanced_accuracy": fit_ba,
                          "test_balanced_accuracy": _balanced_accuracy(at[:, u] > t, yt == c)})

    def mean(key: str) -> float:
        return float(np.nanmean([d[key] for d in per_class]))

    return {"per_class": per_class, "mean_test_balanced_accuracy": mean("test_balanced_accuracy"),
            "mean_fit_balanced_accuracy": mean("fit_balanced_accuracy"), "split": split}


def embedding_2d(codes, method: str = "tsne", pca: Optional[int] = 30, perplexity: float = 30.0,
                 seed: int = 0) -> np.ndarray:
    """2-D embedding [n_items, 2] of the codes for scatter plots (sklearn).

    "pca": the first two principal components. "tsne": PCA to min(pca, n_features, n_items)
    components (skipped when pca is None or 0), then t-SNE (init="pca", learning_rate="auto",
    random_state=seed); the perplexity is capped at (n_items - 1) / 3 so small sets work.
    Codes that are the same for every item (e.g. a silent layer) have no embedding: ValueError
    (scikit-learn's t-SNE crashes the process on them)."""
    a = _codes(codes)
    if a.shape[0] < 2 or not np.any(np.ptp(a, axis=0) > 0):
        raise ValueError(f"codes are the same for all {a.shape[0]} items (a silent layer?): nothing to embed")
    from sklearn.decomposition import PCA
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(a)
    if method != "tsne":
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    from sklearn.manifold import TSNE
    if pca:
        a = PCA(n_components=min(int(pca), a.shape[1], a.shape[0]), random_state=seed).fit_transform(a)
    perplexity = float(max(1.0, min(perplexity, (a.shape[0] - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=seed).fit_transform(a)


def knn_accuracy(codes, labels, k: int = 5, folds: int = 5, seed: int = 0,
                 metric: str = "euclidean") -> float:
    """Separability of the classes in the full code space: mean accuracy of a k-nearest-neighbour
    classifier over `folds` stratified, shuffled (seeded) cross-validation folds (sklearn)."""
    a = _codes(codes)
    y = _labels(labels, a.shape[0])
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(n_neighbors=k, metric=metric), a, y, cv=cv).mean())


def _linear_classifier(C: float, max_iter: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def cross_modal_transfer(codes_image_only, codes_text_only, labels, labels_text=None,
                         C: float = 1.0, folds: int = 5, seed: int = 0, max_iter: int = 5000) -> dict:
    """Does a linear read-out of the joint codes transfer across modalities?

    A standardised logistic regression (StandardScaler fitted on the training modality, then
    sklearn LogisticRegression with inverse regularisation C) is trained on all image-only codes
    and tested on all text-only codes, and vice versa. `labels_text` (default: `labels`) allows a
    different item set for the text codes. Returns {"image_to_text", "text_to_image",
    "image_within", "text_within"}: accuracies, the last two by `folds`-fold stratified
    cross-validation within one modality (for reference)."""
    ci, ct = _codes(codes_image_only, "codes_image_only"), _codes(codes_text_only, "codes_text_only")
    yi = _labels(labels, ci.shape[0], "codes_image_only")
    yt = _labels(yi if labels_text is None else labels_text, ct.shape[0], "codes_text_only",
                 "labels" if labels_text is None else "labels_text")
    if ci.shape[1] != ct.shape[1]:
        raise ValueError(f"codes_image_only has {ci.shape[1]} units but codes_text_only has {ct.shape[1]}")
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = {}
    for name, (xa, ya, xb, yb) in {"image_to_text": (ci, yi, ct, yt),
                                   "text_to_image": (ct, yt, ci, yi)}.items():
        out[name] = float(_linear_classifier(C, max_iter).fit(xa, ya).score(xb, yb))
    out["image_within"] = float(cross_val_score(_linear_classifier(C, max_iter), ci, yi, cv=cv).mean())
    out["text_within"] = float(cross_val_score(_linear_classifier(C, max_iter), ct, yt, cv=cv).mean())
    return out


# ---------------------------------------------------------------------------------------------------
# Convolutional sparse codes of images: reconstruction, PSNR, sparseness, pruning, kernel orientation
# and bandwidth (Ladret, Casanova & Perrinet, "Kernel Heterogeneity Improves Sparseness of Natural
# Images Representations", 2023). Here codes are arrays (N, H, W, K): N images, an H x W code map at
# stride 1 per kernel, K kernels (a Laminar LCA layer's activity, Run.activity(...)[sample]); a
# dictionary is (K, p_y, p_x[, nf]) as Laminar stores a Convolution's weights (Run.weights(...)).


def _batch(a, name: str, min_ndim: int = 2) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {x.shape}")
    return x


def psnr(source, reconstruction, peak=None):
    """Peak signal-to-noise ratio in dB, the paper's eq. 6, per image:

        PSNR = 20 log10(max(I1)) - 10 log10(mean((I1 - I2)^2))

    with I1 = `source` and I2 = `reconstruction`. A 2-D pair (H, W) gives a float; a batch (N, H, W)
    (or (N, H, W, nf)) gives an array (N,): the max and the mean are over each image's pixels.
    max(I1) is the maximum of the source exactly as passed: pass the image as it was coded. For
    zero-mean images (ImageInput `normalize: zero_mean`) that is the max of the zero-mean image
    (about 0.5 for a [0, 1] photograph, about 6 dB below the [0, 1] convention's peak of 1); pass
    `peak=1.0` (a number or an array (N,)) to use a fixed peak instead. A perfect reconstruction
    gives +inf; a source whose max is <= 0 gives nan (log of a non-positive peak)."""
    s, r = _batch(source, "source"), _batch(reconstruction, "reconstruction")
    if s.shape != r.shape:
        raise ValueError(f"source has shape {s.shape} but reconstruction has {r.shape}")
    single = s.ndim == 2
    if single:
        s, r = s[None], r[None]
    axes = tuple(range(1, s.ndim))
    top = s.max(axis=axes) if peak is None else np.broadcast_to(np.asarray(peak, dtype=np.float64), (s.shape[0],))
    mse = ((s - r) ** 2).mean(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 20.0 * np.log10(top) - 10.0 * np.log10(mse)
    return float(out[0]) if single else out


def sparseness(codes):
    """Fraction of coefficients exactly 0 in each code: codes (N, ...) -> array (N,) (axis 0 is
    always the batch; pass codes[None] for one code)."""
    a = _batch(codes, "codes")
    return (a.reshape(a.shape[0], -1) == 0).mean(axis=1)


def conv_offset(patch: int, stride: int = 1) -> int:
    """Laminar's Convolution offset on one axis, -floor((patch - stride)/2): kernel k of the code at
    position c covers the finer layer's positions c*stride + offset .. c*stride + offset + patch - 1
    (for patch 12, stride 1: c-5 .. c+6)."""
    return -((patch - stride) // 2)


def _dictionary(dictionary, k: int) -> np.ndarray:
    w = np.asarray(dictionary, dtype=np.float64)
    if w.ndim == 3:
        w = w[..., None]
    if w.ndim != 4:
        raise ValueError(f"dictionary must be (K, p_y, p_x) or (K, p_y, p_x, nf), got shape {w.shape}")
    if w.shape[0] != k:
        raise ValueError(f"codes have {k} kernels but the dictionary has {w.shape[0]}")
    return w


def reconstruct(codes, dictionary):
    """The image a code stands for, sum_k d_k * a_k, as Laminar's Convolution computes it from a code
    layer to a same-size layer (stride 1): every coefficient a[n, y, x, k] adds
    a * dictionary[k, py, px, f] at pixel (y + oy + py, x + ox + px) with oy = conv_offset(p_y),
    ox = conv_offset(p_x) (for 12 x 12 kernels: rows y-5 .. y+6), and what falls outside the image
    is dropped (zero outside the layer). codes (N, H, W, K) -> (N, H, W); a dictionary with nf > 1
    features gives (N, H, W, nf); codes (H, W, K) give one image. Computed with FFTs (scipy.fft)
    in float64. Pass the kernels Laminar used (Run.weights / a WeightRecorder): a Convolution scales
    each kernel to L2 norm `strength`, file-loaded ones too. python/tests/reconstruct_test.py checks
    this function against a laminar run (12 x 12 kernels; equal to float32 rounding)."""
    from scipy import fft as sfft

    a = np.asarray(codes, dtype=np.float64)
    single = a.ndim == 3
    if single:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"codes must be (N, H, W, K) or (H, W, K), got shape {np.shape(codes)}")
    n, h, w_, k = a.shape
    d = _dictionary(dictionary, k)
    py, px, nf = d.shape[1:]
    oy, ox = conv_offset(py), conv_offset(px)
    shape = (sfft.next_fast_len(h + py - 1, True), sfft.next_fast_len(w_ + px - 1, True))
    dh = sfft.rfft2(d, s=shape, axes=(1, 2))                            # (K, fy, fx, nf)
    out = np.empty((n, h, w_, nf))
    for i in range(n):
        ah = sfft.rfft2(a[i], s=shape, axes=(0, 1))                     # (fy, fx, K)
        full = sfft.irfft2(np.einsum("yxk,kyxf->yxf", ah, dh), s=shape, axes=(0, 1))
        out[i] = full[-oy:-oy + h, -ox:-ox + w_]                        # full convolution, shifted by the offset
    if nf == 1:
        out = out[..., 0]
    return out[0] if single else out


def prune(codes, cutoff: float) -> np.ndarray:
    """A copy of the codes with every coefficient |a| < cutoff set to 0 (|a| == cutoff is kept)."""
    a = np.asarray(codes, dtype=np.float64)
    return np.where(np.abs(a) < cutoff, 0.0, a)


def pruning_curve(codes, dictionary, sources, cutoffs=None) -> dict:
    """Sparseness and PSNR of pruned codes (the paper's figure 6a): for each cutoff c, prune(codes, c),
    reconstruct, and compare with the sources (N, H, W) as coded (see psnr).

    `cutoffs` default: np.geomspace(0.001, 0.5, 6) (0.001, 0.0035, 0.012, 0.042, 0.15, 0.5). The paper
    iterates "from 0.001 to 0.5 in 6 steps"; log spacing is chosen because that range spans 2.7
    decades (linear steps would jump from 0.001 to 0.1 and leave the small cutoffs unsampled).
    Returns {"cutoffs": (C,), "sparseness": (C, N), "psnr": (C, N)}."""
    c = np.geomspace(0.001, 0.5, 6) if cutoffs is None else np.asarray(cutoffs, dtype=np.float64).ravel()
    a = np.asarray(codes, dtype=np.float64)
    s = np.asarray(sources, dtype=np.float64)
    if a.ndim != 4 or s.shape[:1] + s.shape[1:3] != a.shape[:3]:
        raise ValueError(f"codes (N, H, W, K) {a.shape} and sources (N, H, W) {s.shape} do not match")
    sp = np.empty((len(c), a.shape[0]))
    ps = np.empty((len(c), a.shape[0]))
    for j, cut in enumerate(c):
        pruned = prune(a, cut)
        sp[j] = sparseness(pruned)
        ps[j] = psnr(s, reconstruct(pruned, dictionary))
    return {"cutoffs": c, "sparseness": sp, "psnr": ps}


def kernel_sparseness(codes) -> np.ndarray:
    """Fraction of zero coefficients of each kernel over all images and positions: codes (N, H, W, K)
    (or (..., K)) -> array (K,)."""
    a = _batch(codes, "codes")
    return (a.reshape(-1, a.shape[-1]) == 0).mean(axis=0)


def sparseness_by_group(codes, groups) -> dict:
    """Per-kernel sparseness grouped by a per-kernel value (the paper's figure 3b: by B_theta).

    `groups` is an array (K,) (e.g. each kernel's B_theta in degrees). Returns {"per_kernel": (K,),
    "groups": sorted distinct values (G,), "n_kernels", "mean", "std" (population, ddof 0), "median",
    "min", "max": (G,)}, lists of plain floats/ints (json.dump can write it)."""
    per = kernel_sparseness(codes)
    g = np.asarray(groups).ravel()
    if g.shape[0] != per.shape[0]:
        raise ValueError(f"codes have {per.shape[0]} kernels but groups has {g.shape[0]} values")
    values = np.unique(g)
    out = {"per_kernel": per.tolist(), "groups": values.tolist(), "n_kernels": [], "mean": [], "std": [],
           "median": [], "min": [], "max": []}
    for v in values:
        x = per[g == v]
        out["n_kernels"].append(int(x.size))
        for key, f in (("mean", np.mean), ("std", np.std), ("median", np.median), ("min", np.min), ("max", np.max)):
            out[key].append(float(f(x)))
    return out


def _kappa_from_r(r: np.ndarray) -> np.ndarray:
    """Inverse of A1(kappa) = I1(kappa)/I0(kappa) (von Mises mean resultant length), by bisection."""
    from scipy.special import i0e, i1e

    r = np.clip(np.asarray(r, dtype=np.float64), 1e-12, 1 - 1e-12)
    lo, hi = np.zeros_like(r), np.full_like(r, 1e7)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        big = i1e(mid) / i0e(mid) > r
        hi = np.where(big, mid, hi)
        lo = np.where(big, lo, mid)
    return 0.5 * (lo + hi)


def orientation_bandwidth(kernels, pad: Optional[int] = None, max_frequency: float = 0.5) -> dict:
    """Orientation theta0 and angular bandwidth B_theta of each kernel (the paper's figure 3a), from
    its amplitude spectrum, by the circular moments of the eq. 3 angular envelope.

    `kernels`: (K, p_y, p_x[, nf]) (a Laminar dictionary; features are summed in power) or one
    (p_y, p_x). Each kernel's DFT on its own p_y x p_x grid (or, with `pad`, zero-padded to pad x pad)
    gives the amplitude |W(f)| at fx = fftfreq(columns), fy = fftfreq(rows); theta = atan2(-fy, fx)
    (y up), taken mod 180 degrees: the direction of the frequency vector, as in eq. 3 and Laminar's
    log-Gabor init (the kernel's stripes run perpendicular to it). Only 0 < |f| <= max_frequency is
    used: the disk inside the square DFT grid, so that every radius is a full circle and the polar
    measure separates (DC has no angle). With weights |W| the angular marginal of eq. 3,
    exp(cos(2(theta - theta0)) / (4 sigma^2)), is a von Mises law in 2 theta with concentration
    kappa = 1/(4 sigma^2), so

        m = sum |W| exp(2i theta) / sum |W|,   theta0 = arg(m)/2,   A1(kappa) = |m|,
        sigma = 1/(2 sqrt(kappa)),   B_theta = sigma sqrt(2 ln 2)

    (A1 = I1/I0, inverted numerically). Returns {"theta0": (K,) degrees in [0, 180), "b_theta": (K,)
    degrees, "resultant": (K,) |m|}; a flat (isotropic) spectrum gives |m| near 0 and a huge
    B_theta. The default, the kernel's own grid, is exact for kernels made by sampling eq. 3 on that
    grid (as the paper's log-Gabor kernels are); zero-padding interpolates the spectrum with the
    window's sinc, which for 12 x 12 kernels with f0 = 0.4 (near Nyquist) spreads the angles and
    inflates B_theta several-fold, so use `pad` only for kernels much larger than their wavelength.
    Measured (python/tests/test_analysis.py OrientationFit, 6 orientations x 2 phases each): eq. 3
    sampled on a 64 x 64 grid: theta0 within 0.2 deg, B_theta within 1.5% for 3..30 deg; on a 12 x 12
    grid: theta0 within 2 deg for B_theta >= 6 (3 deg at 3), B_theta within 6% for 12..30 deg, 14%
    at 9, 44% at 6, and meaningless at 3 deg (a 12-pixel kernel near Nyquist has about one DFT
    sample per 12 deg on the f0 ring)."""
    w = np.asarray(kernels, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim == 3:
        w = w[..., None]
    if w.ndim != 4:
        raise ValueError(f"kernels must be (K, p_y, p_x[, nf]) or (p_y, p_x), got shape {np.shape(kernels)}")
    if pad is not None and pad < max(w.shape[1:3]):
        raise ValueError(f"pad {pad} is smaller than the kernel {w.shape[1]}x{w.shape[2]}")
    grid = w.shape[1:3] if pad is None else (pad, pad)
    amp = np.sqrt((np.abs(np.fft.fft2(w, s=grid, axes=(1, 2))) ** 2).sum(axis=-1))  # (K, ny, nx)
    fy, fx = np.meshgrid(np.fft.fftfreq(grid[0]), np.fft.fftfreq(grid[1]), indexing="ij")
    radius = np.hypot(fx, fy)
    use = (radius > 0) & (radius <= max_frequency)
    theta = np.arctan2(-fy, fx)
    e2 = np.exp(2j * theta[use])
    a = amp[:, use]
    m = (a * e2).sum(axis=1) / np.maximum(a.sum(axis=1), 1e-300)
    theta0 = np.mod(np.degrees(np.angle(m)) / 2.0, 180.0)
    r = np.abs(m)
    kappa = _kappa_from_r(r)
    b = np.degrees(np.sqrt(2 * np.log(2)) / (2 * np.sqrt(kappa)))
    return {"theta0": theta0, "b_theta": b, "resultant": r}


def kde_2d(theta0, b_theta, theta_grid=None, b_grid=None, bw_method=None):
    """Gaussian kernel density of (theta0, B_theta) pairs (the paper's figure 3a), with theta0
    circular (period 180 degrees).

    The angles are first unwrapped around their circular mean mu (period 180: mu = arg(mean
    exp(2i theta))/2), i.e. each theta0 is moved by a multiple of 180 into [mu - 90, mu + 90), so a
    cluster straddling 0/180 is one cluster and not two far apart (which would inflate the
    bandwidth); scipy.stats.gaussian_kde is fitted on those pairs (bandwidth by `bw_method`, default
    Scott's rule), and the density at (t, b) is the sum of that KDE at (t + 180 m, b), m = -2..2: the
    Gaussian kernels wrapped around the circle, so the density is periodic (0 and 180 are the same
    angle) and integrates to 1 over [0, 180) x R (up to kernel mass beyond two turns, negligible for
    bandwidths below 180). Grids default to 181 points over [0, 180] and 100 points over
    [0, 1.2 max(B_theta)]. Returns (theta_grid, b_grid, density) with density shape
    (len(b_grid), len(theta_grid)) (rows: B_theta), ready for plt.pcolormesh(theta_grid, b_grid,
    density) or contour."""
    from scipy.stats import gaussian_kde

    t = np.mod(np.asarray(theta0, dtype=np.float64).ravel(), 180.0)
    b = np.asarray(b_theta, dtype=np.float64).ravel()
    if t.shape != b.shape or t.size < 3:
        raise ValueError(f"theta0 and b_theta must be the same length >= 3, got {t.size} and {b.size}")
    mu = np.degrees(np.angle(np.exp(2j * np.radians(t)).mean())) / 2.0
    t = mu + np.mod(t - mu + 90.0, 180.0) - 90.0
    kde = gaussian_kde(np.vstack([t, b]), bw_method=bw_method)
    tg = np.linspace(0.0, 180.0, 181) if theta_grid is None else np.asarray(theta_grid, dtype=np.float64)
    bg = np.linspace(0.0, 1.2 * b.max(), 100) if b_grid is None else np.asarray(b_grid, dtype=np.float64)
    T, B = np.meshgrid(tg, bg)
    pts = np.vstack([T.ravel(), B.ravel()])
    dens = sum(kde(pts + np.array([[180.0 * m], [0.0]])) for m in range(-2, 3))
    return tg, bg, dens.reshape(T.shape)


def mann_whitney(a, b) -> dict:
    """Two-sided Mann-Whitney U test of two samples (scipy.stats.mannwhitneyu, its default method:
    exact for small samples without ties, else the normal approximation). Returns a dict of plain
    numbers: {"U": U statistic of `a` (number of pairs with a > b, ties counting 1/2), "p",
    "median_a", "median_b", "n_a", "n_b", "alternative": "two-sided"}."""
    from scipy.stats import mannwhitneyu

    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError(f"both samples must be non-empty, got {x.size} and {y.size} values")
    res = mannwhitneyu(x, y, alternative="two-sided")
    return {"U": float(res.statistic), "p": float(res.pvalue), "median_a": float(np.median(x)),
            "median_b": float(np.median(y)), "n_a": int(x.size), "n_b": int(y.size), "alternative": "two-sided"}
