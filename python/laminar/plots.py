"""Figures of a Laminar run (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import math
import sys
from typing import Optional, Sequence

import matplotlib

if "ipykernel" not in sys.modules:  # in a notebook, keep its (inline) backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, png: str) -> str:
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def plot_energy(run, png: str, probe: Optional[str] = None) -> str:
    """Energy (mean over the batch). With display periods: left, the energy on the last step of each
    period (the settled code for each input: the learning curve); right, the trajectory within the
    first and the last period (LCA descent), total and per layer. Without: energy against step."""
    cols = run.energy_arrays(probe)
    steps = np.asarray(cols["step"])
    names = ["energy"] + sorted(k for k in cols if k not in ("step", "energy"))
    mean = {k: (np.asarray(cols[k]).mean(axis=1) if np.asarray(cols[k]).ndim == 2 else np.asarray(cols[k]))
            for k in names}
    dp = run.display_period
    periodic = bool(dp) and len(steps) > 1 and np.all(np.diff(steps) == 1) and steps[-1] + 1 >= 2 * dp
    if not periodic:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for k in names:
            ax.plot(steps, mean[k], label=k, lw=1.5 if k == "energy" else 1.0)
        ax.set_xlabel("step")
        ax.set_ylabel("energy (mean over batch)")
        ax.legend()
        ax.set_title("Energy: 0.5||e||^2 + lambda sum C(a)")
        fig.tight_layout()
        return _save(fig, png)
    last = np.nonzero((steps + 1) % dp == 0)[0]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k in names:
        ax1.plot((steps[last] + 1) // dp, mean[k][last], label=k, lw=1.5 if k == "energy" else 1.0)
    ax1.set_xlabel("display period (input presentation)")
    ax1.set_ylabel("energy at the end of the period")
    ax1.set_title("Learning: settled energy per input")
    ax1.legend()
    first_idx = np.nonzero(steps < dp)[0]
    p_last = int(steps[last[-1]] // dp)
    last_idx = np.nonzero(steps // dp == p_last)[0]
    for idx, tag, style in ((first_idx, "first period", "--"), (last_idx, f"period {p_last + 1}", "-")):
        ax2.plot(steps[idx] - steps[idx][0], mean["energy"][idx], style, label=f"energy, {tag}")
    ax2.set_xlabel("step within the display period")
    ax2.set_ylabel("energy (mean over batch)")
    ax2.set_title("Inference: LCA descent within a period")
    ax2.legend()
    fig.tight_layout()
    return _save(fig, png)


def plot_sparsity(run, png: str, probe: str) -> str:
    """A Stats probe (mean over the batch): left, the fraction of nonzero units against step; right, the
    mean, min and max of the layer's buffer. With display periods, the end of each period is marked."""
    p = run.probe(probe)
    steps = np.asarray(p.step)
    col = {k: np.asarray(p[k], dtype=np.float64) for k in ("fraction_nonzero", "mean", "min", "max") if k in p}
    mean = {k: (v.mean(axis=1) if v.ndim == 2 else v) for k, v in col.items()}
    layer = (run.params.get("probes", {}) or {}).get(probe, {}).get("layer") or p.attrs.get("layer") or "?"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    dp = run.display_period
    if "fraction_nonzero" in mean:
        ax1.plot(steps, mean["fraction_nonzero"], lw=1.2)
        if dp and len(steps) > 1:
            last = np.nonzero((steps + 1) % dp == 0)[0]
            ax1.plot(steps[last], mean["fraction_nonzero"][last], "o", ms=3, label="end of display period")
            if len(last):
                ax1.legend()
    ax1.set_xlabel("step")
    ax1.set_ylabel("fraction nonzero (mean over batch)")
    ax1.set_title(f"Sparsity of {layer}")
    for k, style in (("max", "--"), ("mean", "-"), ("min", "--")):
        if k in mean:
            ax2.plot(steps, mean[k], style, label=k, lw=1.0)
    ax2.set_xlabel("step")
    ax2.set_ylabel("value (mean over batch)")
    ax2.set_title(f"{layer}: mean, min and max")
    if any(k in mean for k in ("mean", "min", "max")):
        ax2.legend()
    fig.tight_layout()
    return _save(fig, png)


def dictionary_image(weights: np.ndarray, columns: Optional[int] = None, pad: int = 1,
                     shared_scale: bool = False) -> np.ndarray:
    """Tile image of weights [kernels, patch_y, patch_x, features]: one tile per kernel, each scaled
    so that 0 is mid-grey and its largest |w| is black or white (with `shared_scale`, the largest |w| of
    the whole dictionary, so tiles compare). RGB when features == 3; otherwise the features of a kernel
    are drawn side by side. Returns [H, W] or [H, W, 3] in [0, 1]."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"weights must be [kernels, patch_y, patch_x, features], got shape {w.shape}")
    k, py, px, nf = w.shape
    rgb = nf == 3
    if not rgb:  # features side by side: [k, py, px * nf]
        w = np.concatenate([w[..., f] for f in range(nf)], axis=2)[..., None]
    th, tw = w.shape[1], w.shape[2]
    columns = columns or int(math.ceil(math.sqrt(k)))
    rows = int(math.ceil(k / columns))
    img = np.ones((rows * (th + pad) + pad, columns * (tw + pad) + pad, w.shape[3]))
    shared = np.max(np.abs(w)) if shared_scale and w.size else None
    for i in range(k):
        m = shared if shared is not None else np.max(np.abs(w[i]))
        tile = 0.5 + 0.5 * w[i] / m if m > 0 else np.full(w[i].shape, 0.5)
        r, c = divmod(i, columns)
        img[pad + r * (th + pad):pad + r * (th + pad) + th, pad + c * (tw + pad):pad + c * (tw + pad) + tw] = tile
    return img if rgb else img[..., 0]


def plot_dictionary(weights: np.ndarray, png: str, title: Optional[str] = None, columns: Optional[int] = None,
                    shared_scale: bool = False, labels: bool = False) -> str:
    """Draw a dictionary [kernels, patch, patch, features] as a tile image (`shared_scale`: one grey
    scale for all kernels, see dictionary_image); with `labels`, each tile's kernel index in its corner."""
    img = dictionary_image(weights, columns, shared_scale=shared_scale)
    h, w = img.shape[:2]
    scale = max(2.0, 600.0 / max(h, w))
    fig = plt.figure(figsize=(w * scale / 100 + 0.2, h * scale / 100 + (0.5 if title else 0.2)))
    ax = fig.add_axes([0.01, 0.01, 0.98, 0.9 if title else 0.98])
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if labels:
        _label_tiles(ax, np.shape(weights), columns, scale)
    if title:
        ax.set_title(title)
    return _save(fig, png)


def _label_tiles(ax, shape, columns: Optional[int], scale: float, pad: int = 1) -> None:
    """Kernel indices in the top-left corner of each tile of a dictionary_image (same layout)."""
    from matplotlib import patheffects

    k, py, px, nf = shape
    th, tw = py, (px if nf == 3 else px * nf)
    columns = columns or int(math.ceil(math.sqrt(k)))
    size = float(np.clip(0.3 * th * scale * 0.75, 5, 11))  # points; ~a third of a tile's height
    for i in range(k):
        r, c = divmod(i, columns)
        ax.text(pad + c * (tw + pad) - 0.4, pad + r * (th + pad) - 0.4, str(i), fontsize=size, color="#ffd84d",
                ha="left", va="top", path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])


def plot_activity(data: np.ndarray, png: str, batch: int = 0, title: Optional[str] = None,
                  max_features: int = 16) -> str:
    """A recorded code [batch, ny, nx, nf] (one sample of an ActivityRecorder): the first features'
    maps for one batch element, and the fraction of nonzero units per feature over the batch."""
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 3:
        data = data[None]
    B, ny, nx, nf = data.shape
    show = min(nf, max_features)
    cols = int(math.ceil(math.sqrt(show)))
    rows = int(math.ceil(show / cols))
    fig = plt.figure(figsize=(2 * cols + 4, 2 * rows + 0.6))
    gs = fig.add_gridspec(rows, cols + 2)
    m = np.max(np.abs(data[batch])) or 1.0
    for i in range(show):
        ax = fig.add_subplot(gs[i // cols, i % cols])
        ax.imshow(data[batch, :, :, i], cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
        ax.set_title(f"f{i}", fontsize=8)
        ax.set_axis_off()
    ax = fig.add_subplot(gs[:, cols:])
    ax.bar(np.arange(nf), np.mean(data != 0, axis=(0, 1, 2)))
    ax.set_xlabel("feature")
    ax.set_ylabel("fraction nonzero")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, png)


def plot_run(run, out_dir: Optional[str] = None) -> list[str]:
    """Every figure a run supports, one per thing and named by one rule (<what>-<name>.png): energy.png,
    dictionary-<connection>.png (final weights), dictionary-<WeightRecorder>.png (latest sample, for
    connections without final weights), activity-<ActivityRecorder>.png (latest sample)."""
    import os

    out_dir = out_dir or run.dir
    os.makedirs(out_dir, exist_ok=True)
    written = []
    try:
        run.energy_arrays()
        written.append(plot_energy(run, os.path.join(out_dir, "energy.png")))
    except KeyError:
        pass
    for conn, d in sorted(run.connections.items()):
        if "final_weights" in d:
            written.append(plot_dictionary(d["final_weights"], os.path.join(out_dir, f"dictionary-{conn}.png"),
                                           title=f"{conn} (final)"))
    import h5py

    with h5py.File(run.file, "r") as f:  # a recorder of a connection with final weights shows the same dictionary
        recorded = {n: f[f"probes/{n}"].attrs.get("connection") for n in run.probes_of_type("WeightRecorder")}
    finals = {c for c, d in run.connections.items() if "final_weights" in d}
    for name in run.probes_of_type("WeightRecorder"):
        conn = recorded.get(name)
        if (conn.decode() if isinstance(conn, bytes) else conn) in finals:
            continue
        steps, w = run.weight_history(name)
        if len(steps):
            written.append(plot_dictionary(w[-1], os.path.join(out_dir, f"dictionary-{name}.png"),
                                           title=f"{name} (step {int(steps[-1])})"))
    for name in run.probes_of_type("ActivityRecorder"):
        steps, data = run.recorder(name)
        if len(steps):
            written.append(plot_activity(data[-1], os.path.join(out_dir, f"activity-{name}.png"),
                                         title=f"{name} (step {int(steps[-1])})"))
    return written


__all__: Sequence[str] = ["plot_energy", "plot_dictionary", "plot_activity", "dictionary_image", "plot_run"]
