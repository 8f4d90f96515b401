"""Figures of tutorial 06 (kernel heterogeneity), after Ladret, Casanova and Perrinet (2023): the
dictionaries (figure 2a-c), sparseness and PSNR per image (2d), the density of the kernels' fitted
(theta0, B_theta) before and after learning (3a), per-kernel sparseness by B_theta (3b), codes of an
image by orientation (3d, 3e), pruning trajectories (6a) and pruned reconstructions (6b), table 1 as
bars, and the energy while learning."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"hom_pre": "tab:green", "hom_post": "tab:orange", "het_pre": "tab:blue", "het_post": "tab:purple",
          "rand_post": "black"}


def _save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return name


def _tiles(W, cols=16):
    W = np.asarray(W).reshape(len(W), W.shape[1], W.shape[2])
    rows = int(np.ceil(len(W) / cols))
    p = W.shape[1]
    img = np.full((rows * (p + 1) + 1, cols * (p + 1) + 1), np.nan)
    for i, k in enumerate(W):
        r, c = divmod(i, cols)
        m = np.abs(k).max() or 1.0
        img[1 + r * (p + 1):1 + r * (p + 1) + p, 1 + c * (p + 1):1 + c * (p + 1) + p] = k / m
    return img


def dictionaries(out, dicts, labels):
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.6))
    for ax, (key, label) in zip(axes, labels):
        ax.imshow(_tiles(dicts[key], 12), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(label, color=COLORS[key])
        ax.axis("off")
    fig.suptitle("Figure 2a-c: the five dictionaries (144 kernels of 12x12, each scaled to its max |w|)")
    return _save(fig, out, "fig2abc_dictionaries.png")


def sparseness_psnr(out, nat, labels):
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.5))
    for j, what in enumerate(("sparseness", "psnr")):
        data = [nat[k][what] for k, _ in labels]
        parts = ax[j].violinplot(data, showmedians=True)
        for body, (k, _) in zip(parts["bodies"], labels):
            body.set_facecolor(COLORS[k])
        for i, d in enumerate(data):
            ax[j].scatter(np.full(len(d), i + 1) + np.random.default_rng(i).uniform(-0.08, 0.08, len(d)), d, s=6,
                          color=COLORS[labels[i][0]])
        ax[j].set_xticks(range(1, 6), [lab.replace(", ", "\n") for _, lab in labels], fontsize=8)
        ax[j].set_ylabel("sparseness (fraction of zero coefficients)" if what == "sparseness" else "PSNR (dB)")
    fig.suptitle("Figure 2d: sparseness and PSNR of each photograph's code (medians as lines)")
    return _save(fig, out, "fig2d_sparseness_psnr.png")


def kde(out, kdes, fits, labels):
    fig, axes = plt.subplots(1, 5, figsize=(22, 4), sharey=True)
    top = max(np.percentile(fits[k]["b_theta"], 95) for k, _ in labels) * 1.2
    for ax, (key, label) in zip(axes, labels):
        tg, bg, dens = kdes[key]
        ax.pcolormesh(tg, bg, dens, shading="auto", cmap="magma")
        ax.scatter(fits[key]["theta0"], fits[key]["b_theta"], s=4, color="cyan", alpha=0.6)
        ax.set_ylim(0, top)
        ax.set_title(label, color=COLORS[key])
        ax.set_xlabel("fitted theta0 (deg)")
        ax.set_xticks([0, 45, 90, 135, 180])
    axes[0].set_ylabel("fitted B_theta (deg)")
    fig.suptitle("Figure 3a: density of the kernels' fitted (theta0, B_theta), before (pre) and after learning")
    return _save(fig, out, "fig3a_kernel_density.png")


def sparseness_by_b(out, groups, labels):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in labels:
        if key not in groups:
            continue
        g = groups[key]
        ax.errorbar(g["b_theta"], g["mean"], yerr=g["std"], marker="o", capsize=3, color=COLORS[key], label=label)
    ax.axhline(1.0, color="gray", ls="--")
    ax.set_xlabel("B_theta of the kernel's bank position (deg)")
    ax.set_ylabel("per-kernel sparseness (mean +- sd)")
    ax.legend(fontsize=8)
    ax.set_title("Figure 3b: sparseness of each kernel, grouped by B_theta")
    return _save(fig, out, "fig3b_sparseness_by_b_theta.png")


def codes_by_orientation(out, examples, attrs, fits, x, keys=("het_pre", "het_post")):
    """Figure 3d, 3e: one photograph, the code of its broad kernels (B_theta >= 19 deg of the bank) coloured by
    each coefficient's kernel theta0, and the reconstruction."""
    if 0 not in examples.get(keys[0], {}):
        return None
    fig, ax = plt.subplots(len(keys), 3, figsize=(12, 4 * len(keys)))
    b = attrs["het_pre"]["b_theta_deg"]
    broad = b >= 19
    for row, key in enumerate(keys):
        e = examples[key][0]
        a = np.abs(e["code"][..., broad])
        th = np.asarray(fits[key]["theta0"])[broad]
        strongest = a.argmax(axis=-1)
        mag = a.max(axis=-1)
        hsv = np.stack([th[strongest] / 180.0, np.ones_like(mag), mag / (mag.max() or 1)], -1)
        ax[row, 0].imshow(x[0], cmap="gray")
        ax[row, 0].set_title("photograph (mean removed)")
        ax[row, 1].imshow(matplotlib.colors.hsv_to_rgb(hsv))
        ax[row, 1].set_title(f"{key}: |a| of the broad kernels (B_theta >= 19 deg),\nhue = fitted theta0")
        ax[row, 2].imshow(e["recon"], cmap="gray")
        ax[row, 2].set_title(f"{key}: reconstruction")
        for a_ in ax[row]:
            a_.axis("off")
    fig.suptitle("Figure 3d, 3e: a code by orientation, heterogeneous dictionary before and after learning")
    return _save(fig, out, "fig3de_codes.png")


def pruning(out, nat, labels, keys=("hom_pre", "het_pre", "het_post")):
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for key, label in labels:
        if key not in keys:
            continue
        p = nat[key]["pruning"]
        sp, ps = np.asarray(p["sparseness"]), np.asarray(p["psnr"])
        for i in range(sp.shape[1]):
            ax.plot(sp[:, i], ps[:, i], color=COLORS[key], alpha=0.2, lw=0.8)
        ax.annotate("", xy=(sp[-1].mean(), ps[-1].mean()), xytext=(sp[0].mean(), ps[0].mean()),
                    arrowprops=dict(arrowstyle="->", ls="--", color=COLORS[key], lw=2))
        ax.plot(sp.mean(axis=1), ps.mean(axis=1), "o--", color=COLORS[key], label=label)
    ax.set_xlabel("sparseness")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=8)
    ax.set_title("Figure 6a: pruning |a| < c, c = " + ", ".join(f"{c:.3g}" for c in nat[keys[0]]["pruning"]["cutoffs"]))
    return _save(fig, out, "fig6a_pruning.png")


def pruned_reconstructions(out, examples, nat, keys=("hom_pre", "het_pre", "het_post")):
    if 0 not in examples.get(keys[0], {}):
        return None
    cut = nat[keys[0]]["pruning"]["cutoffs"]
    fig, ax = plt.subplots(len(keys), len(cut), figsize=(2.6 * len(cut), 2.8 * len(keys)))
    for r, key in enumerate(keys):
        for c, img in enumerate(examples[key][0]["pruned"]):
            ax[r, c].imshow(img, cmap="gray")
            ax[r, c].set_title(f"{key}, c = {cut[c]:.3g}\nPSNR {nat[key]['pruning']['psnr'][c][0]:.1f} dB", fontsize=8)
            ax[r, c].axis("off")
    fig.suptitle("Figure 6b: reconstructions of the first photograph from pruned codes")
    return _save(fig, out, "fig6b_pruned_reconstructions.png")


def table1(out, rows, cutoffs):
    fig, ax = plt.subplots(figsize=(10, 4.5))
    keys = [k for k in rows if k != "pixels"]
    w = 0.8 / len(cutoffs)
    for j, c in enumerate(cutoffs):
        m = [rows[k][str(c)]["mean"] for k in keys]
        s = [rows[k][str(c)]["std"] for k in keys]
        ax.bar(np.arange(len(keys)) + j * w, m, w, yerr=s, capsize=3, label=f"pruning c = {c}")
    ax.axhline(rows["pixels"]["0.0"]["mean"], color="gray", ls="--", label="pixels (no coding)")
    ax.set_xticks(np.arange(len(keys)) + w, [rows[k]["label"].replace(", ", "\n") for k in keys], fontsize=8)
    lo = min(rows[k][str(c)]["mean"] for k in keys for c in cutoffs)
    ax.set_ylim(max(0, lo - 15), 100)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("Table 1 (small): Fashion-MNIST codes classified by a small CNN, mean +- sd over seeds")
    return _save(fig, out, "table1_accuracy.png")


def learning(out, learn, labels):
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in labels:
        if key in learn:
            ax.plot(learn[key]["energy"], color=COLORS[key], label=label)
    ax.set_xlabel("batch of crops")
    ax.set_ylabel("energy at the end of the batch (mean)")
    ax.legend(fontsize=8)
    ax.set_title("Dictionary learning: the objective at each batch's settled code")
    return _save(fig, out, "learning_energy.png")


def all_figures(out, r, dicts, attrs, examples, kdes, x):
    from tutorial import DICTS, TABLE_CUTOFFS
    figs = [dictionaries(out, dicts, DICTS), sparseness_psnr(out, r["natural"], DICTS),
            kde(out, kdes, r["kernel_fits"], DICTS), sparseness_by_b(out, r["sparseness_by_b_theta"], DICTS),
            codes_by_orientation(out, examples, attrs, r["kernel_fits"], x), pruning(out, r["natural"], DICTS),
            pruned_reconstructions(out, examples, r["natural"]), table1(out, r["table1"], TABLE_CUTOFFS),
            learning(out, r["learning"], DICTS)]
    return [f for f in figs if f]
