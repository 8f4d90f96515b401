"""Figures for tutorial 03 (matplotlib, Agg backend)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {"2L-SPC dictionaries, feedback on": ("C0", "-"), "Hi-La dictionaries, feedback off": ("C3", "-"),
         "2L-SPC dictionaries, feedback off": ("C0", ":"), "Hi-La dictionaries, feedback on": ("C3", ":")}


def plot_results(evals, main_pair, pe_png, conv_png, steps):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    for name, r in evals.items():
        c, ls = STYLE.get(name, ("k", "-"))
        lw = 2.0 if name in main_pair else 1.0
        ax.plot(np.array(r["steps"]) + 1, r["pe_mean"], color=c, ls=ls, lw=lw, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LCA step")
    ax.set_ylabel("total prediction error 0.5||e1||^2 + 0.5||e2||^2")
    ax.set_title("Prediction error during inference (mean over test patches)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for name in main_pair:
        r = evals[name]
        c, _ = STYLE[name]
        ax.plot(np.array(r["steps"]) + 1, r["e1_mean"], color=c, ls="-", label=f"{name.split()[0]}: layer 1")
        ax.plot(np.array(r["steps"]) + 1, r["e2_mean"], color=c, ls="--", label=f"{name.split()[0]}: layer 2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LCA step")
    ax.set_ylabel("0.5||e_k||^2")
    ax.set_title("Per layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(pe_png, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    for name, r in evals.items():
        c, ls = STYLE.get(name, ("k", "-"))
        E = np.array(r["energy_mean"])
        rel = np.abs(np.diff(E)) / np.abs(E[1:])
        ax.plot(np.arange(2, len(E) + 1), np.maximum(rel, 1e-12), color=c, ls=ls,
                lw=2.0 if name in main_pair else 1.0, label=name)
    ax.axhline(1e-4, color="0.5", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("LCA step")
    ax.set_ylabel("|E(n) - E(n-1)| / E(n)  (batch-mean energy)")
    ax.set_title("Relative energy change; convergence below 1e-4")
    ax.legend(fontsize=8)
    ax = axes[1]
    names = list(evals)
    data = [evals[n]["conv_steps"] for n in names]
    ax.boxplot(data, vert=False, labels=[n.replace(" dictionaries, ", "\n") for n in names])
    ax.set_xlabel(f"steps to converge per test patch (max {steps})")
    ax.set_title("Steps to converge")
    fig.tight_layout()
    fig.savefig(conv_png, dpi=100)
    plt.close(fig)
    return [pe_png, conv_png]
