"""Figures for tutorial 04 (concept neurons): the paper's figures 6, 7, 8, 9 and 11, each for the deep
sparse-coding network (DSC) and the feed-forward autoencoder (FFA), plus cell types, multimodal counts
against the criterion's threshold, mean activation by class, and the energy during training and inference."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MODELS = (("dsc", "DSC (Laminar)"), ("ffa", "FFA (PyTorch)"))
TYPES = ("image", "text", "consistent", "inconsistent", "none")


def featured_class(arrays):
    """The class with the most multimodal DSC units preferring it (the tutorial's 'Halle Berry')."""
    m, pref = arrays["dsc_multimodal_mask"].astype(bool), arrays["dsc_preferred_class"]
    counts = np.bincount(pref[m], minlength=10) if m.any() else np.zeros(10, int)
    return int(np.argmax(counts))


def concept_unit(arrays, model, c):
    """The unit whose weaker modality responds most to class c: argmax_u min(R_image[c,u], R_text[c,u])."""
    return int(np.argmax(np.minimum(arrays[f"{model}_R_image"][c], arrays[f"{model}_R_text"][c])))


def _save(fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def fig6(out, arrays, classes, c):
    y = arrays["y_test"]
    rng = np.random.default_rng(0)
    sel = np.nonzero(y == c)[0][:75]
    rnd = rng.choice(len(y), size=min(75, len(y)), replace=False)
    fig, ax = plt.subplots(2, 2, figsize=(12, 6), sharex="col")
    for row, (m, title) in enumerate(MODELS):
        codes = arrays[f"{m}_codes_pairs"]
        u = concept_unit(arrays, m, c)
        for col, (idx, what) in enumerate(((sel, f"{len(sel)} '{classes[c]}' pairs"), (rnd, f"{len(rnd)} random pairs"))):
            mean = codes[idx].mean(axis=0)
            a = ax[row, col]
            a.bar(np.arange(len(mean)), mean, width=1.0, color="tab:blue")
            a.bar([u], [mean[u]], width=max(1.0, len(mean) / 150), color="tab:red", label=f"unit {u}")
            a.set_title(f"{title}: mean activation, {what}", fontsize=10)
            a.legend(loc="upper right", fontsize=8)
            a.set_ylabel("mean activation")
    for a in ax[-1]:
        a.set_xlabel("joint unit")
    fig.suptitle(f"Figure 6: average joint-layer activation for '{classes[c]}' and for random test pairs "
                 "(red: the unit responding most to both modalities of that class)")
    return _save(fig, os.path.join(out, "fig6_mean_activation.png"))


def fig7(out, arrays, classes, c):
    y = arrays["y_test"]
    fig, ax = plt.subplots(2, 2, figsize=(12, 6))
    for row, (m, title) in enumerate(MODELS):
        u = concept_unit(arrays, m, c)
        for col, cond in enumerate(("image_only", "text_only")):
            v = arrays[f"{m}_codes_{cond}"][:, u]
            a = ax[row, col]
            order = np.argsort(y != c, kind="stable")
            colours = np.where(y[order] == c, "tab:red", "tab:gray")
            a.scatter(np.arange(len(v)), v[order], s=6, c=colours)
            a.set_title(f"{title}, unit {u}: {cond.replace('_', ' ')} (red: '{classes[c]}')", fontsize=10)
            a.set_ylabel("activation")
            a.set_xlabel("test item (the class first)")
    fig.suptitle("Figure 7: one joint unit's activation on a single modality")
    return _save(fig, os.path.join(out, "fig7_single_modality.png"))


def fig8(out, arrays, classes):
    """Activity-triggered averages of four units per model: the top multimodal unit of four classes."""
    fig = plt.figure(figsize=(13, 6.5))
    outer = fig.add_gridspec(2, 1, hspace=0.35)
    for row, (m, title) in enumerate(MODELS):
        counts = np.bincount(arrays[f"{m}_preferred_class"][arrays[f"{m}_multimodal_mask"].astype(bool)], minlength=10)
        cls = [int(k) for k in np.argsort(-counts, kind="stable")[:4]]
        inner = outer[row].subgridspec(2, 4, height_ratios=[28, 16 * 28 / 64 * 2], hspace=0.1)
        for j, k in enumerate(cls):
            u = concept_unit(arrays, m, k)
            ai, at = fig.add_subplot(inner[0, j]), fig.add_subplot(inner[1, j])
            img, txt = arrays[f"{m}_ata_image"][u], arrays[f"{m}_ata_text"][u]
            ai.imshow(np.nan_to_num(img), cmap="gray")
            at.imshow(np.nan_to_num(txt), cmap="gray")
            ai.set_title(f"{title.split()[0]} unit {u} ('{classes[k]}')", fontsize=9)
            ai.axis("off")
            at.axis("off")
    fig.suptitle("Figure 8: activity-triggered averages (activation-weighted mean image and name, test pairs)")
    return _save(fig, os.path.join(out, "fig8_activity_triggered_average.png"))


def fig9(out, results, arrays, classes):
    fig, ax = plt.subplots(1, 2, figsize=(13, 6))
    y = arrays["y_test"]
    cmap = plt.get_cmap("tab10")
    for a, (m, title) in zip(ax, MODELS):
        e = arrays[f"{m}_embedding"]
        for k in range(10):
            s = y == k
            a.scatter(e[s, 0], e[s, 1], s=5, color=cmap(k), label=classes[k])
        a.set_title(f"{title}: t-SNE of the joint code (PCA 30, perplexity 30)\n"
                    f"5-NN accuracy in the joint space {results[m]['knn_accuracy']:.1%}", fontsize=10)
        a.set_xticks([])
        a.set_yticks([])
    ax[1].legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.suptitle("Figure 9: joint embeddings of the test pairs")
    return _save(fig, os.path.join(out, "fig9_tsne.png"))


def fig11(out, results, arrays, classes, n=8):
    """Generated missing modalities next to the truth: name from the image alone, image from the name alone."""
    y = arrays["y_test"]
    idx = [int(np.nonzero(y == k)[0][0]) for k in range(10) if np.any(y == k)][:n]
    rows = [("input image", arrays["x_test"], "img"), ("input name", arrays["t_test"], "txt"),
            ("DSC: name generated from the image", arrays["dsc_text_image_only"], "txt"),
            ("FFA: name generated from the image", arrays["ffa_text_image_only"], "txt"),
            ("DSC: image reconstructed (pair)", arrays["dsc_image_pairs"], "img"),
            ("FFA: image reconstructed (pair)", arrays["ffa_image_pairs"], "img"),
            ("DSC: image generated from the name", arrays["dsc_image_text_only"], "img"),
            ("FFA: image generated from the name", arrays["ffa_image_text_only"], "img")]
    heights = [28 if kind == "img" else 16 * 28 / 64 * 1.6 for _, _, kind in rows]
    fig, ax = plt.subplots(len(rows), len(idx), figsize=(1.6 * len(idx) + 2.5, 0.055 * sum(heights) + 1.5),
                           gridspec_kw=dict(height_ratios=heights), squeeze=False)
    for r, (label, data, kind) in enumerate(rows):
        for j, i in enumerate(idx):
            a = ax[r, j]
            a.imshow(np.clip(data[i], 0, 1), cmap="gray", vmin=0, vmax=1, aspect="auto" if kind == "txt" else "equal")
            a.set_xticks([])
            a.set_yticks([])
            if r == 0:
                a.set_title(classes[y[i]], fontsize=8)
        ax[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    leg = results["legibility"]
    fig.suptitle(f"Figure 11: generated missing modalities. Legible generated names (classifier of rendered names): "
                 f"DSC {leg['dsc_generated_names']:.0%}, FFA {leg['ffa_generated_names']:.0%}; generated images "
                 f"recognised: DSC {leg['dsc_generated_images']:.0%}, FFA {leg['ffa_generated_images']:.0%}",
                 fontsize=9)
    return _save(fig, os.path.join(out, "fig11_generation.png"))


def fig_cells(out, results, classes):
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    w = 0.38
    x = np.arange(len(TYPES))
    for k, (m, title) in enumerate(MODELS):
        c = results[m]["cell_types"]["counts"]
        ax[0].bar(x + (k - 0.5) * w, [c.get(t, 0) for t in TYPES], w, label=title)
    ax[0].set_xticks(x)
    ax[0].set_xticklabels(["image", "name", "consistent\nbimodal", "inconsistent\nbimodal", "not selective"])
    ax[0].set_ylabel("joint units")
    ax[0].set_title("cell types by single-cell information (0.96 / 0.94 bits)", fontsize=10)
    ax[0].legend()
    for m, title in MODELS:
        mm = results[m]["multimodal"]
        th = sorted(mm["counts_by_threshold"], key=float)
        ax[1].plot([float(t) for t in th], [mm["counts_by_threshold"][t] / mm["units"] for t in th], "o-", label=title)
    ax[1].set_xlabel("threshold theta (response >= theta x the unit's largest class mean)")
    ax[1].set_ylabel("fraction of joint units multimodal")
    ax[1].set_ylim(0, 1)
    ax[1].set_title("multimodal units against the criterion's threshold", fontsize=10)
    ax[1].legend()
    return _save(fig, os.path.join(out, "cell_types.png"))


def fig_by_class(out, arrays, classes):
    fig, ax = plt.subplots(2, 1, figsize=(12, 5.5))
    for a, (m, title) in zip(ax, MODELS):
        M = arrays[f"{m}_mean_by_class"]
        order = np.lexsort((-M.max(axis=0), np.argmax(M, axis=0)))
        scale = np.maximum(M.max(axis=0, keepdims=True), 1e-12)
        a.imshow(M[:, order] / scale[:, order], aspect="auto", cmap="magma", interpolation="nearest")
        a.set_yticks(range(10))
        a.set_yticklabels(classes, fontsize=7)
        a.set_title(f"{title}: mean activation by class (each unit scaled to its maximum; units sorted by preferred class)",
                    fontsize=9)
    ax[-1].set_xlabel("joint unit")
    return _save(fig, os.path.join(out, "mean_activation_by_class.png"))


def fig_energy(out, arrays, period):
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    ax[0].plot(arrays["train_energy_step"] // period, arrays["train_energy"])
    ax[0].set_xlabel("presentation (training)")
    ax[0].set_ylabel("energy at the end of the input (mean over batch)")
    ax[0].set_title("DSC training", fontsize=10)
    s, e = arrays["infer_energy_step"], arrays["infer_energy"]
    k = s % period
    mean = np.array([e[k == i].mean() for i in range(period)])
    ax[1].plot(np.arange(period), mean)
    ax[1].set_xlabel("LCA step within an input")
    ax[1].set_ylabel("energy (mean over test pairs)")
    ax[1].set_yscale("log")
    ax[1].set_title("DSC inference, fixed dictionaries: the energy settles within the display period", fontsize=10)
    return _save(fig, os.path.join(out, "energy.png"))


def plot_all(out, results, arrays, classes):
    c = featured_class(arrays)
    results["featured_class"] = dict(index=c, name=classes[c],
                                     dsc_unit=concept_unit(arrays, "dsc", c), ffa_unit=concept_unit(arrays, "ffa", c))
    return [fig6(out, arrays, classes, c), fig7(out, arrays, classes, c), fig8(out, arrays, classes),
            fig9(out, results, arrays, classes), fig11(out, results, arrays, classes), fig_cells(out, results, classes),
            fig_by_class(out, arrays, classes), fig_energy(out, arrays, results["settings"]["period"])]
