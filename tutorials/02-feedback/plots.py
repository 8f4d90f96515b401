"""Figures for tutorial 02 (top-down feedback in a two-stream sparse-coding network)."""
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _project(codes, ca, cb):
    """2-D coordinates: x along the line from centre a (0) to centre b (1); y the distance off that line,
    in the same units (the centres' distance)."""
    axis = cb - ca
    n2 = float(np.dot(axis, axis))
    rel = codes - ca
    x = rel @ axis / n2
    off = rel - np.outer(x, axis)
    return x, np.linalg.norm(off, axis=1) / np.sqrt(n2)


def plot_results(out, results):
    A, B = results["settings"]["classes"]
    X = results["example"]
    ex = X["index"]
    z = np.load(os.path.join(out, "codes.npz"))
    data = os.path.join(out, "data")
    with h5py.File(os.path.join(data, "test_hand.h5"), "r") as f:
        hand = np.asarray(f["raw"][ex])
    with h5py.File(os.path.join(data, f"print_{X['printed']}.h5"), "r") as f:
        printed = np.asarray(f["raw"][ex])

    fig = plt.figure(figsize=(14, 8.2))
    gs = fig.add_gridspec(2, 4, width_ratios=[0.7, 1.3, 1.3, 1.3])
    ax = fig.add_subplot(gs[0, 0])
    ax.imshow(hand, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"handwritten test digit\n(label {X['label']}, H1 says {X['predicted']})", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(gs[1, 0])
    ax.imshow(printed, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"then shown in print:\na {X['printed']}", fontsize=9)
    ax.axis("off")

    # distances of the example to both class centres, before / after, feedback on / off, H1 and P1
    for col, layer in ((1, "H1"), (2, "P1")):
        ax = fig.add_subplot(gs[0, col])
        labels, w = [], 0.38
        for i, s in enumerate(("1.0", "0.0")):
            E = X[f"fb{int(float(s))}_{layer}"]
            for j, when in enumerate(("before", "after")):
                xpos = i * 2.6 + j * 1.1
                ax.bar(xpos - w / 2, E[when][str(A)], w, color="C0", label=f"to centre {A}" if i + j == 0 else None)
                ax.bar(xpos + w / 2, E[when][str(B)], w, color="C3", label=f"to centre {B}" if i + j == 0 else None)
                labels.append((xpos, f"{when}\nfeedback {float(s):g}"))
        ax.set_xticks([p for p, _ in labels], [t for _, t in labels], fontsize=8)
        ax.set_ylabel("Euclidean distance")
        ax.set_title(f"{layer}: the example's distance to the class centres", fontsize=9)
        ax.legend(fontsize=8)

    # histogram of the shift over all test digits
    ax = fig.add_subplot(gs[0, 3])
    for s, color in (("1.0", "C2"), ("0.0", "0.4")):
        sh = np.asarray(results["feedback"][s]["H1"]["shift"])
        ax.hist(sh, bins=40, alpha=0.7, color=color, label=f"feedback {float(s):g}: mean {sh.mean():+.3f}")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("H1 shift toward the printed class\n(units of the centres' distance)")
    ax.set_ylabel(f"test digits (of {results['n_test']})")
    ax.set_title("H1, all held-out digits: shown the other class in print", fontsize=9)
    ax.legend(fontsize=8)

    # H1 feature space: codes projected on the centre-to-centre line; the example's move
    for col, s in ((1, "fb1"), (2, "fb0")):
        ax = fig.add_subplot(gs[1, col])
        ca, cb = z[f"{s}_H1_centre{A}"], z[f"{s}_H1_centre{B}"]
        xt, yt = _project(z[f"{s}_H1_train"], ca, cb)
        yl = z["y_train"]
        ax.scatter(xt[yl == A], yt[yl == A], s=8, c="C0", alpha=0.5, label=f"training {A}s")
        ax.scatter(xt[yl == B], yt[yl == B], s=8, c="C3", alpha=0.5, label=f"training {B}s")
        xb, yb = _project(z[f"{s}_H1_before"][ex:ex + 1], ca, cb)
        xa, ya = _project(z[f"{s}_H1_after"][ex:ex + 1], ca, cb)
        ax.scatter([0, 1], [0, 0], marker="X", s=80, c=["C0", "C3"], edgecolors="k", zorder=3)
        ax.axvline(0.5, color="k", lw=0.6, ls=":")
        ax.annotate("", xy=(xa[0], ya[0]), xytext=(xb[0], yb[0]),
                    arrowprops=dict(arrowstyle="->", color="k", lw=1.5))
        ax.scatter(xb, yb, s=50, c="w", edgecolors="k", zorder=4, label="example before")
        ax.scatter(xa, ya, s=50, c="k", zorder=4, label="example after")
        ax.set_xlabel(f"position along centre {A} (0) -> centre {B} (1)")
        ax.set_ylabel("distance off that line")
        ax.set_title(f"H1 feature space, feedback {1 if s == 'fb1' else 0}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")

    ax = fig.add_subplot(gs[1, 3])
    for s, color in (("1.0", "C2"), ("0.0", "0.4")):
        L = results["feedback"][s]["H1"]
        dA0, dB0 = np.asarray(L["d_before"][str(A)]), np.asarray(L["d_before"][str(B)])
        margin = np.abs(dA0 - dB0) / (dA0 + dB0)
        ax.scatter(margin, L["shift"], s=6, c=color, alpha=0.7, label=f"feedback {float(s):g}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("relative margin |dA - dB| / (dA + dB) before")
    ax.set_ylabel("H1 shift toward the printed class")
    ax.set_title("shift against distance from the boundary", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle("Top-down feedback: a printed digit of the other class moves the handwritten layer H1's own code",
                 fontsize=11)
    fig.tight_layout()
    p1 = os.path.join(out, "feedback.png")
    fig.savefig(p1, dpi=110)
    plt.close(fig)

    # the data
    fig, axes = plt.subplots(4, 12, figsize=(12, 4.4))
    rows = [("train_hand.h5", "training: handwritten"), ("train_print.h5", "training: printed (paired)"),
            ("test_hand.h5", "test: handwritten"), (f"print_{A}.h5", f"test: printed {A}s")]
    for r, (name, title) in enumerate(rows):
        with h5py.File(os.path.join(data, name), "r") as f:
            imgs, labels = np.asarray(f["raw"][:12]), np.asarray(f["labels"][:12])
        for c in range(12):
            axes[r, c].imshow(imgs[c], cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            axes[r, c].set_xlabel(str(labels[c]), fontsize=7)
        axes[r, 0].set_ylabel(title, fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout()
    p2 = os.path.join(out, "data.png")
    fig.savefig(p2, dpi=100)
    plt.close(fig)
    return [p1, p2]
