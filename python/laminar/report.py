"""python -m laminar report OUTPUT [--shared-scale]: a static HTML report of a Laminar run.

Writes OUTPUT/report.html and its figures in OUTPUT/report/ (relative links: open the file in any
browser, no server). Sections, in order:
  1. Params and schedule: the resolved YAML (root attribute `params`) and the step schedule.
  2. Energy and sparsity: every Energy probe and every Stats probe (probes found by their `type`).
  3. Dictionary: the final weights of each plastic connection, a tile per kernel with its index; per
     kernel grey scale, or one shared scale with --shared-scale.
  4. Input | reconstruction | residual for a few batch elements, where ActivityRecorders of an input
     layer and of the Error layer it feeds were recorded. The reconstruction is the recorder of that
     Error layer's `inhibitory` buffer (Phi a) when there is one, else input - residual.
A piece the run did not record is skipped with a note in the HTML.
"""
from __future__ import annotations

import argparse
import datetime
import html
import os
import re
import sys
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import plots  # noqa: E402
from .run import H5_NAME, Run  # noqa: E402

FIG_DIR = "report"
HTML_NAME = "report.html"

CSS = """
:root { --ink: #1d2433; --muted: #5b6478; --rule: #dde1ea; --accent: #2d5fb3; --panel: #f6f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink); background: #fff; }
header { background: var(--ink); color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 6px; font-size: 22px; font-weight: 600; }
header dl { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0; font-size: 13px; }
header dt { color: #aab3c5; display: inline; }
header dd { display: inline; margin: 0 0 0 6px; font-family: "Liberation Mono", monospace; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--rule); font-size: 13px; }
nav a { color: var(--accent); margin-right: 18px; text-decoration: none; }
main { max-width: 1180px; padding: 0 32px 40px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--accent); padding-bottom: 4px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
pre { background: var(--panel); border: 1px solid var(--rule); border-radius: 4px; padding: 10px 12px;
      font: 12px/1.4 "Liberation Mono", monospace; overflow: auto; max-height: 420px; margin: 0;
      white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 0 0 14px; }
figure img { max-width: min(100%, 900px); height: auto; border: 1px solid var(--rule); display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.note { color: var(--muted); background: var(--panel); border-left: 3px solid #c9a227; padding: 8px 12px; margin: 6px 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid var(--rule); padding: 3px 12px 3px 0; text-align: left; }
th { color: var(--muted); font-weight: 600; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 24px; }
"""


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def _safe(name: str) -> str:
    """A file-name-safe form of a probe or connection name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "_"


class _Report:
    def __init__(self, run: Run, out_dir: str, shared_scale: bool, batch: int):
        self.run = run
        self.out_dir = out_dir
        self.fig_dir = os.path.join(out_dir, FIG_DIR)
        self.shared_scale = shared_scale
        self.batch = batch
        self.figures: list[str] = []
        os.makedirs(self.fig_dir, exist_ok=True)

    # --- helpers
    def png(self, stem: str) -> str:
        return os.path.join(self.fig_dir, _safe(stem) + ".png")

    def figure(self, path: str, caption: str, alt: str, ident: str = "") -> str:
        self.figures.append(path)
        rel = os.path.relpath(path, self.out_dir).replace(os.sep, "/")
        idattr = f' id="{_esc(ident)}"' if ident else ""
        return (f'<figure{idattr}><img src="{_esc(rel)}" alt="{_esc(alt)}">'
                f"<figcaption>{caption}</figcaption></figure>")

    @staticmethod
    def note(text: str) -> str:
        return f'<p class="note">{text}</p>'

    def probe_params(self, name: str) -> dict:
        return ((self.run.params.get("probes") or {}).get(name) or {})

    def layer_params(self, name: str) -> dict:
        return ((self.run.params.get("layers") or {}).get(name) or {})

    # --- header
    def last_step(self) -> Optional[int]:
        last = [int(p.step[-1]) for p in self.run.probes.values() if len(p.step)]
        return max(last) if last else None

    def header(self) -> str:
        run, sim = self.run, self.run.simulation
        name = os.path.basename(os.path.abspath(run.dir)) or run.dir
        steps = sim.get("steps")
        if steps is None and sim.get("epochs") is not None:
            steps = f"{sim.get('epochs')} epochs"
        last = self.last_step()
        steps_text = f"{steps if steps is not None else '?'}"
        if last is not None and steps is not None and str(last + 1) != str(steps):
            steps_text += f" (recorded up to step {last})"
        items = [("version", run.attrs.get("laminar_version", "unknown")),
                 ("steps", steps_text),
                 ("backend", sim.get("backend", "cpu")),
                 ("batch", sim.get("batch_size", 1)),
                 ("display period", sim.get("display_period", "—")),
                 ("params file", run.attrs.get("params_file", "—"))]
        for key, label in (("mpi_ranks", "MPI ranks"), ("omp_threads", "threads"), ("run_seconds", "run time")):
            if key in run.attrs:
                v = run.attrs[key]
                if key == "run_seconds":
                    try:
                        v = f"{float(v):.1f} s"
                    except ValueError:
                        pass
                items.append((label, v))
        if "run_id" in run.attrs:
            items.append(("run id", run.attrs["run_id"][:12]))
        dl = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in items)
        return f"<header><h1>Laminar run: {_esc(name)}</h1><dl>{dl}</dl></header>"

    # --- 1. params and schedule
    def section_params(self) -> str:
        run = self.run
        params = run.params_text.strip()
        sched = run.attrs.get("schedule", "").strip()
        left = (f"<div><h3>Params (resolved)</h3><pre>{_esc(params)}</pre></div>" if params else
                f"<div><h3>Params</h3>{self.note('No <code>params</code> attribute in the file.')}</div>")
        right = (f"<div><h3>Schedule</h3><pre>{_esc(sched)}</pre></div>" if sched else
                 f"<div><h3>Schedule</h3>{self.note('No <code>schedule</code> attribute in the file.')}</div>")
        rows = []
        for n in sorted(run.probes):
            p = run.probes[n]
            what = p.attrs.get("layer") or p.attrs.get("connection") or self.probe_params(n).get("layer") or ""
            if p.attrs.get("buffer") and p.attrs.get("buffer") != "activity":
                what += f" ({p.attrs['buffer']})"
            rows.append(f"<tr><td>{_esc(n)}</td><td>{_esc(p.type or '?')}</td><td>{_esc(what)}</td>"
                        f"<td>{len(p.step)}</td></tr>")
        table = ("<h3>Probes</h3><table><tr><th>probe</th><th>type</th><th>of</th><th>samples</th></tr>"
                 + "".join(rows) + "</table>") if rows else self.note("The run recorded no probes.")
        return (f'<section id="params"><h2>1. Params and schedule</h2><div class="cols">{left}{right}</div>'
                f"{table}</section>")

    # --- 2. energy and sparsity
    def section_curves(self) -> str:
        run = self.run
        parts = []
        energy = run.probes_of_type("Energy")
        for n in energy:
            if not len(run.probes[n].step):
                parts.append(self.note(f"Energy probe <code>{_esc(n)}</code> has no samples."))
                continue
            try:
                png = plots.plot_energy(run, self.png(f"energy-{n}"), n)
            except (KeyError, ValueError, IndexError) as e:
                parts.append(self.note(f"Energy probe <code>{_esc(n)}</code> could not be drawn: {_esc(e)}"))
                continue
            parts.append(self.figure(png, f"Energy probe <code>{_esc(n)}</code>: total energy and each layer's "
                                          "term, mean over the batch.", f"energy {n}"))
        if not energy:
            parts.append(self.note("No Energy probe in this run (add <code>{type: Energy}</code> under "
                                   "<code>probes</code>)."))
        stats = run.probes_of_type("Stats")
        for n in stats:
            p = run.probes[n]
            if not len(p.step) or "fraction_nonzero" not in p:
                parts.append(self.note(f"Stats probe <code>{_esc(n)}</code> has no samples."))
                continue
            png = plots.plot_sparsity(run, self.png(f"sparsity-{n}"), n)
            layer = self.probe_params(n).get("layer") or p.attrs.get("layer") or "?"
            frac = np.asarray(p["fraction_nonzero"], dtype=np.float64)
            final = float(frac[-1].mean()) if frac.size else float("nan")
            parts.append(self.figure(png, f"Stats probe <code>{_esc(n)}</code> of layer <code>{_esc(layer)}</code>: "
                                          f"fraction of nonzero units (last sample: {final:.3g}) and the buffer's "
                                          "mean, min and max.", f"sparsity {n}"))
        if not stats:
            parts.append(self.note("No Stats probe in this run, so no sparsity curve (add "
                                   "<code>{type: Stats, layer: V1}</code>)."))
        return f'<section id="curves"><h2>2. Energy and sparsity</h2>{"".join(parts)}</section>'

    # --- 3. dictionary
    def section_dictionary(self) -> str:
        run = self.run
        conns = run.params.get("connections") or {}
        parts = []
        for i, c in enumerate(sorted(run.connections)):
            d = run.connections[c]
            if "final_weights" not in d:
                continue
            w = np.asarray(d["final_weights"])
            if w.ndim != 4 or w.size == 0:
                parts.append(self.note(f"Connection <code>{_esc(c)}</code>: final weights of shape "
                                       f"{_esc(w.shape)} cannot be drawn as kernels."))
                continue
            cp = conns.get(c) or {}
            scale = "one shared grey scale" if self.shared_scale else "each kernel on its own grey scale"
            png = plots.plot_dictionary(w, self.png(f"dictionary-{c}"), shared_scale=self.shared_scale, labels=True)
            m = float(np.max(np.abs(w)))
            cap = (f"<code>{_esc(c)}</code> ({_esc(cp.get('type', '?'))}, {_esc(cp.get('pre', '?'))} &rarr; "
                   f"{_esc(cp.get('post', '?'))}): {w.shape[0]} kernels of {w.shape[1]}&times;{w.shape[2]}"
                   f"&times;{w.shape[3]}, {scale} (0 is mid-grey; max |w| = {m:.3g}).")
            if w.shape[3] not in (1, 3):
                cap += " The features of each kernel are drawn side by side."
            parts.append(self.figure(png, cap, f"dictionary {c}", ident="dictionary" if not i else ""))
        if not parts:
            parts.append(self.note("No plastic connection: the file holds no <code>connections/*/final_weights</code>."))
        opt = ("Drawn with <code>--shared-scale</code>: tiles compare in magnitude." if self.shared_scale else
               "Each kernel is scaled to its own largest |w|; <code>--shared-scale</code> uses one scale for all.")
        return f'<section id="dictionary"><h2>3. Dictionary</h2><p>{opt}</p>{"".join(parts)}</section>'

    # --- 4. input | reconstruction | residual
    def _recorders(self, layer: str, buffer: str) -> list[str]:
        out = []
        for n, p in self.run.probes.items():
            if p.type != "ActivityRecorder":
                continue
            lay = p.attrs.get("layer") or self.probe_params(n).get("layer")
            buf = p.attrs.get("buffer") or self.probe_params(n).get("buffer") or "activity"
            if lay == layer and buf == buffer and len(p.step) and "data" in p:
                out.append(n)
        return sorted(out)

    def _input_of(self, error: str) -> Optional[str]:
        """The layer delivering into an Error layer's excitatory channel (an Identity from the input)."""
        conns = self.run.params.get("connections") or {}
        cands = [c for c in conns.values() if isinstance(c, dict) and c.get("post") == error
                 and c.get("channel", "excitatory") == "excitatory" and c.get("pre")]
        cands.sort(key=lambda c: c.get("type") != "Identity")
        return cands[0]["pre"] if cands else None

    def section_reconstruction(self) -> str:
        run = self.run
        layers = run.params.get("layers") or {}
        errors = sorted(n for n, l in layers.items() if isinstance(l, dict) and l.get("type") == "Error")
        parts = []
        if not errors:
            parts.append(self.note("No Error layer in this network, so no reconstruction to show."))
        for err in errors:
            src = self._input_of(err)
            res = self._recorders(err, "activity")
            rec = self._recorders(err, "inhibitory")
            inp = self._recorders(src, "activity") if src else []
            have = {"input": inp, "reconstruction": rec, "residual": res}
            if sum(bool(v) for v in have.values()) < 2:
                missing = [f"<code>{_esc(src or '?')}</code> (input)" if not inp else None,
                           f"<code>{_esc(err)}</code> (residual)" if not res else None]
                missing = [m for m in missing if m]
                parts.append(self.note(
                    f"Error layer <code>{_esc(err)}</code>: not recorded, panel skipped. Add ActivityRecorder probes "
                    f"of {' and '.join(missing)} (optionally <code>buffer: inhibitory</code> of "
                    f"<code>{_esc(err)}</code> for the reconstruction Phi a)."))
                continue
            parts.append(self._panel(err, src, {k: (v[0] if v else None) for k, v in have.items()}))
        return f'<section id="reconstruction"><h2>4. Input, reconstruction and residual</h2>{"".join(parts)}</section>'

    def _panel(self, err: str, src: Optional[str], names: dict) -> str:
        run = self.run
        probes = {k: run.probes[n] for k, n in names.items() if n}
        common = None
        for p in probes.values():
            s = set(int(x) for x in p.step)
            common = s if common is None else common & s
        if not common:
            return self.note(f"Error layer <code>{_esc(err)}</code>: the recorders "
                             f"{', '.join('<code>' + _esc(n) + '</code>' for n in names.values() if n)} never "
                             "sampled the same step; panel skipped.")
        step = max(common)
        data = {}
        for k, p in probes.items():
            i = int(np.nonzero(np.asarray(p.step) == step)[0][0])
            data[k] = np.asarray(p["data"][i], dtype=np.float64)  # [batch, ny, nx, nf]
        shapes = {k: v.shape for k, v in data.items()}
        if len(set(shapes.values())) != 1:
            return self.note(f"Error layer <code>{_esc(err)}</code>: recorded shapes differ ({_esc(shapes)}); "
                             "panel skipped.")
        derived = ""
        if "reconstruction" not in data:
            data["reconstruction"] = data["input"] - data["residual"]
            derived = "reconstruction = input &minus; residual (no recorder of the Error layer's inhibitory buffer)"
        elif "input" not in data:
            data["input"] = data["reconstruction"] + data["residual"]
            derived = "input = reconstruction + residual (no recorder of the input layer)"
        elif "residual" not in data:
            data["residual"] = data["input"] - data["reconstruction"]
            derived = "residual = input &minus; reconstruction (no recorder of the Error layer's activity)"
        else:
            derived = "reconstruction: the Error layer's inhibitory buffer (Phi a)"
        scale = float(self.layer_params(err).get("scale", 1.0) or 1.0)
        png = self._draw_panel(data, self.png(f"reconstruction-{err}"), f"Error layer {err}, step {step}")
        b = data["input"].shape[0]
        shown = min(b, self.batch)
        rel = []
        for j in range(shown):
            nx_ = np.linalg.norm(data["input"][j])
            rel.append(np.linalg.norm(data["residual"][j]) / nx_ if nx_ > 0 else float("nan"))
        cap = (f"Error layer <code>{_esc(err)}</code> (input <code>{_esc(src or '?')}</code>) at step {step}, batch "
               f"elements 0&ndash;{shown - 1} of {b}: {derived}. Input and reconstruction share a grey scale per row; "
               f"the residual has its own symmetric scale. ||residual|| / ||input||: "
               f"{', '.join(f'{r:.3g}' for r in rel)}.")
        if scale != 1.0:
            cap += f" The Error layer's <code>scale</code> is {scale:g}: its activity is scale &times; (x &minus; Phi a)."
        return self.figure(png, cap, f"input reconstruction residual {err}")

    def _draw_panel(self, data: dict, png: str, title: str) -> str:
        b, ny, nx, nf = data["input"].shape
        shown = min(b, self.batch)
        rgb = nf == 3
        aspect = nx / max(ny, 1)
        w_in = min(3.2, max(1.6, 2.4 * aspect))
        h_in = max(0.6, w_in / max(aspect, 1e-3))
        h_in = min(h_in, 3.2)
        fig, axes = plt.subplots(shown, 3, figsize=(3 * w_in + 1.6, shown * (h_in + 0.45) + 0.6), squeeze=False)

        def view(x):  # [ny, nx, nf] -> what imshow draws
            if rgb:
                return x
            return x[..., 0] if nf == 1 else np.concatenate([x[..., f] for f in range(nf)], axis=1)

        for j in range(shown):
            x, r, e = (view(data[k][j]) for k in ("input", "reconstruction", "residual"))
            if rgb:
                lo, hi = min(x.min(), r.min()), max(x.max(), r.max())
                span = (hi - lo) or 1.0
                axes[j, 0].imshow(np.clip((x - lo) / span, 0, 1), interpolation="nearest")
                axes[j, 1].imshow(np.clip((r - lo) / span, 0, 1), interpolation="nearest")
                m = np.max(np.abs(e)) or 1.0
                axes[j, 2].imshow(np.clip(0.5 + 0.5 * e / m, 0, 1), interpolation="nearest")
            else:
                lo, hi = min(x.min(), r.min()), max(x.max(), r.max())
                if hi <= lo:
                    hi = lo + 1.0
                im = axes[j, 0].imshow(x, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
                fig.colorbar(im, ax=axes[j, 0], fraction=0.046, pad=0.03)  # every column: equal image sizes
                im = axes[j, 1].imshow(r, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
                fig.colorbar(im, ax=axes[j, 1], fraction=0.046, pad=0.03)
                m = np.max(np.abs(e)) or 1.0
                im = axes[j, 2].imshow(e, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
                fig.colorbar(im, ax=axes[j, 2], fraction=0.046, pad=0.03)
            for c, label in enumerate(("input", "reconstruction", "residual")):
                ax = axes[j, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_title(label)
            axes[j, 0].set_ylabel(f"batch {j}")
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(png, dpi=100)
        plt.close(fig)
        return png

    # --- the page
    def html(self) -> str:
        run = self.run
        name = os.path.basename(os.path.abspath(run.dir)) or run.dir
        body = [self.section_params(), self.section_curves(), self.section_dictionary(),
                self.section_reconstruction()]
        nav = ('<nav><a href="#params">1. Params and schedule</a><a href="#curves">2. Energy and sparsity</a>'
               '<a href="#dictionary">3. Dictionary</a><a href="#reconstruction">4. Reconstruction</a></nav>')
        made = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>Laminar report: {_esc(name)}</title><style>{CSS}</style></head><body>\n"
                f"{self.header()}\n{nav}\n<main>\n" + "\n".join(body) + "\n</main>\n"
                f"<footer>Generated {made} by <code>python -m laminar report</code> from "
                f"<code>{_esc(os.path.basename(run.file))}</code>.</footer>\n</body></html>\n")


def write_report(output: str, out_dir: Optional[str] = None, shared_scale: bool = False, batch: int = 4) -> str:
    """Write report.html (and report/*.png) for the run in `output` (a folder or its laminar.h5) into
    `out_dir` (default: the run's folder). Returns the path of report.html. Raises FileNotFoundError
    where there is no laminar.h5."""
    run = Run(output)
    out_dir = out_dir or run.dir
    rep = _Report(run, out_dir, shared_scale=shared_scale, batch=max(1, batch))
    page = rep.html()
    path = os.path.join(out_dir, HTML_NAME)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def main(argv=None) -> int:
    # `laminar-report` (the installed command) or `python -m laminar report`
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    prog = "laminar-report" if argv0.startswith("laminar-report") else "python -m laminar report"
    ap = argparse.ArgumentParser(prog=prog, description="Write OUTPUT/report.html and its figures in "
                                 "OUTPUT/report/: params and schedule, energy and sparsity, the dictionary, "
                                 "input | reconstruction | residual.")
    ap.add_argument("output", help="a Laminar output folder (holding laminar.h5), or the laminar.h5 file")
    ap.add_argument("--shared-scale", action="store_true",
                    help="draw every kernel of a dictionary on one grey scale (default: each kernel scaled to its own max |w|)")
    ap.add_argument("--batch", type=int, default=4, metavar="N",
                    help="batch elements shown in the reconstruction panels (default 4)")
    ap.add_argument("--out", metavar="DIR", help="write report.html and report/ here (default: the output folder)")
    args = ap.parse_args(argv)
    path = args.output
    h5 = os.path.join(path, H5_NAME) if os.path.isdir(path) else path
    if not os.path.isfile(h5):
        print(f"{prog}: error: {h5}: no such file (expected a Laminar output folder holding {H5_NAME})",
              file=sys.stderr)
        return 2
    try:
        html_path = write_report(path, args.out, shared_scale=args.shared_scale, batch=args.batch)
    except OSError as e:  # unreadable or not HDF5
        print(f"{prog}: error: {h5}: cannot read it as Laminar output ({e})", file=sys.stderr)
        return 2
    print(html_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
