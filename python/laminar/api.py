"""Running Laminar from Python: `laminar.run(...)` and `laminar.check(...)`.

    import laminar
    run = laminar.run({"simulation": {...}, "layers": {...}, ...}, output="out/first")
    run.energy()                                  # pandas DataFrame: step, batch, energy, per layer
    info = laminar.check("params/lca.yaml", set={"layers.V1.nf": 64})
    info["layers"]["V1"]["nf"], info["memory"]["per_process_bytes"]

Both call the `laminar` executable: the `executable` argument, else the environment variable
LAMINAR_EXECUTABLE, else `laminar` on PATH, else `build/laminar` of the source tree this package lies in.
Every failure raises `LaminarError` (a RuntimeError) with laminar's own message
(`laminar: error: FILE:LINE:COL: KEY: ...`) and its exit status; nothing here exits the interpreter.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

import yaml

from .run import Run

ENV_EXECUTABLE = "LAMINAR_EXECUTABLE"
PARAMS_INPUT = "params-input.yaml"  # a dict's params, as written into the output folder

Params = Union[str, os.PathLike, Mapping]
Sets = Union[None, Mapping[str, object], Sequence[str]]

_ERROR_LINE = re.compile(r"^laminar: error[^:]*: ?(.*)$")
_LOCATION = re.compile(r"^(?P<file>[^:\n]+?):(?P<line>\d+)(?::(?P<column>\d+))?: (?P<rest>.*)$", re.S)


class LaminarError(RuntimeError):
    """laminar failed (or could not be started). `message`: laminar's error text (its `laminar: error:`
    lines, without that prefix); `returncode`: its exit status (None when it did not run); `stderr`,
    `stdout`: all it printed; `command`: the command line; `file`, `line`, `column`: where in the
    params the error is, when the message says so (else None)."""

    def __init__(self, message: str, returncode: Optional[int] = None, stderr: str = "", stdout: str = "",
                 command: Optional[Sequence[str]] = None):
        self.message = message
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout
        self.command = list(command) if command else None
        m = _LOCATION.match(message)
        self.file = m.group("file") if m else None
        self.line = int(m.group("line")) if m else None
        self.column = int(m.group("column")) if m and m.group("column") else None
        text = f"laminar: error: {message}"
        if returncode is not None:
            text += f" (exit status {returncode})"
        super().__init__(text)


def _error_from(proc_rc: int, stdout: str, stderr: str, command: Sequence[str]) -> LaminarError:
    lines = [m.group(1) for m in map(_ERROR_LINE.match, stderr.splitlines()) if m]
    if not lines:  # not a laminar error line (a crash, a signal): the last words it said
        tail = [ln for ln in (stderr or stdout).splitlines() if ln.strip()][-5:]
        lines = tail or [f"laminar exited with status {proc_rc} and printed nothing"]
        if proc_rc < 0:
            lines.append(f"(killed by signal {-proc_rc})")
    return LaminarError("\n".join(lines), proc_rc, stderr, stdout, command)


def find_executable(executable: Union[None, str, os.PathLike] = None) -> str:
    """The laminar executable to run: `executable`, else $LAMINAR_EXECUTABLE, else `laminar` on PATH,
    else build/laminar next to this source tree. Raises LaminarError when there is none."""
    tried = []
    for origin, cand in (("executable argument", executable), (f"${ENV_EXECUTABLE}", os.environ.get(ENV_EXECUTABLE))):
        if cand:
            path = shutil.which(os.fspath(cand)) if os.sep not in os.fspath(cand) else os.fspath(cand)
            if path and os.path.isfile(path) and os.access(path, os.X_OK):
                return os.path.abspath(path)
            raise LaminarError(f"{origin} {os.fspath(cand)!r} is not an executable file")
    on_path = shutil.which("laminar")
    if on_path:
        return on_path
    tried.append("`laminar` on PATH")
    source_tree = Path(__file__).resolve().parents[2]  # python/laminar/api.py -> the repository
    for cand in (source_tree / "build" / "laminar",):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
        tried.append(str(cand))
    raise LaminarError("no laminar executable found (tried " + ", ".join(tried) + f"); build it "
                       f"(cmake --build build), or give executable=... or set {ENV_EXECUTABLE}")


def _yaml_value(v) -> str:
    if isinstance(v, str):
        return v
    return yaml.safe_dump(_plain(v), default_flow_style=True, width=1 << 30).strip().removesuffix("\n...").strip()


def _set_args(sets: Sets) -> list[str]:
    if not sets:
        return []
    items = [f"{k}={_yaml_value(v)}" for k, v in sets.items()] if isinstance(sets, Mapping) else list(sets)
    out = []
    for s in items:
        if not isinstance(s, str) or "=" not in s:
            raise LaminarError(f"set: expected KEY.PATH=VALUE, got {s!r}")
        out += ["--set", s]
    return out


def _plain(v):
    """A params value as plain YAML types (numpy scalars and arrays, tuples, paths)."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if hasattr(v, "tolist") and hasattr(v, "dtype"):  # numpy scalar or array
        return _plain(v.tolist())
    return v


def _dict_params(params: Mapping) -> dict:
    p = _plain(copy.deepcopy(dict(params)))
    # plugins are resolved relative to the params file's folder: written elsewhere, keep them meaning
    # what they meant here (relative to the current folder)
    if isinstance(p.get("plugins"), list):
        p["plugins"] = [os.path.abspath(x) if isinstance(x, str) else x for x in p["plugins"]]
    return p


def _params_text(params: Mapping) -> str:
    """A dict of params as the YAML file laminar reads (the same lines for run and check)."""
    return "# written by laminar (Python) from a dict of params\n" + \
        yaml.safe_dump(_dict_params(params), sort_keys=False, default_flow_style=False)


def _sets_value(sets: Sets, key: str):
    if not sets:
        return None
    items = sets.items() if isinstance(sets, Mapping) else (s.split("=", 1) for s in sets if "=" in s)
    found = None
    for k, v in items:
        if k == key:
            found = v
    return found


def _output_of(params: Params, output, sets: Sets) -> Optional[str]:
    """Where the run writes: output=, else a --set of simulation.output, else the params' simulation.output."""
    if output:
        return os.fspath(output)
    v = _sets_value(sets, "simulation.output")
    if v:
        return str(v)
    if isinstance(params, Mapping):
        doc = params
    else:
        try:
            with open(params, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            return None
    sim = doc.get("simulation") if isinstance(doc, Mapping) else None
    out = sim.get("output") if isinstance(sim, Mapping) else None
    return str(out) if out else None


def command(executable: str, subcommand: str, params: str, *, output=None, steps=None, sets: Sets = None,
            overwrite: bool = False, resume: bool = False, quiet: bool = False,
            progress: Optional[str] = None, extra: Iterable[str] = ()) -> list[str]:
    """The laminar command line for these options."""
    args = [executable, subcommand, os.fspath(params)]
    if output is not None:
        args += ["-o", os.fspath(output)]
    if steps is not None:
        args += ["--steps", str(int(steps))]
    args += _set_args(sets)
    if overwrite:
        args.append("--overwrite")
    if resume:
        args.append("--resume")
    if progress:
        args += ["--progress", progress]
    elif quiet:
        args.append("-q")
    return args + list(extra)


def _environment(threads) -> dict:
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def _communicate(args: Sequence[str], env: dict, cwd, progress: Callable[[dict], object]):
    """Runs laminar, handing each JSON line of its stdout to `progress`; returns (rc, stdout, stderr)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            bufsize=1)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    out = []
    try:
        for line in proc.stdout:
            s = line.strip()
            if s.startswith("{"):
                try:
                    record = json.loads(s)
                except ValueError:
                    out.append(line)
                    continue
                if isinstance(record, dict):
                    progress(record)
                    continue
            out.append(line)
    except BaseException:  # the callback failed (or Ctrl-C): stop laminar too
        proc.kill()
        proc.wait()
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
        raise
    rc = proc.wait()
    reader.join()
    proc.stdout.close()
    proc.stderr.close()
    return rc, "".join(out), "".join(err)


def run(params: Params, *, set: Sets = None, output=None, steps: Optional[int] = None,  # noqa: A002
        executable=None, progress: Optional[Callable[[dict], object]] = None, overwrite: bool = False,
        resume: bool = False, threads: Optional[int] = None, cwd=None) -> Run:
    """Run a network with `laminar run` and return its `Run`.

    params: a params file, or a dict of params (written as YAML to `<output>/params-input.yaml` and run
        from there; `output` or the dict's simulation.output must then say where). Relative paths in the
        params (data, output) are relative to the current folder (or `cwd`), as for the command line.
    set: overrides, {"layers.V1.lambda": 0.2} or ["layers.V1.lambda=0.2"] (as --set).
    output, steps: as --output and --steps. overwrite, resume: as --overwrite and --resume.
    progress: a callable given one dict per progress report (keys step, steps, rate, eta_s, energy, ...:
        `laminar run --progress jsonl`); without it laminar runs quietly.
    threads: OpenMP threads (OMP_NUM_THREADS) for this run.
    Raises LaminarError with laminar's message on any failure (bad params, a used output folder, ...)."""
    exe = find_executable(executable)
    where = os.fspath(cwd) if cwd is not None else os.getcwd()
    out = _output_of(params, output, set)
    written = None
    tmp_params = None
    if isinstance(params, Mapping):
        if not out:
            raise LaminarError("params given as a dict need an output folder: give output=... or "
                               "simulation.output in the dict")
        out_abs = os.path.join(where, out)
        os.makedirs(out_abs, exist_ok=True)
        text = _params_text(params)
        written = os.path.join(out_abs, PARAMS_INPUT)
        # a used folder is refused by laminar unless overwrite/resume: leave its params-input.yaml alone
        used = os.path.exists(os.path.join(out_abs, "laminar.h5"))
        if used and not (overwrite or resume):
            fd, tmp_params = tempfile.mkstemp(prefix=".params-input-", suffix=".yaml", dir=out_abs)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            params_path = tmp_params
        else:
            with open(written, "w", encoding="utf-8") as f:
                f.write(text)
            params_path = written
        output = out  # the params file lies in the output folder now: say where the output goes
    else:
        params_path = os.fspath(params)
    args = command(exe, "run", params_path, output=output, steps=steps, sets=set, overwrite=overwrite,
                   resume=resume, quiet=progress is None, progress="jsonl" if progress is not None else None)
    env = _environment(threads)
    try:
        if progress is not None:
            rc, stdout, stderr = _communicate(args, env, where, progress)
        else:
            proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=where)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except BaseException as e:
        if tmp_params is not None and os.path.exists(tmp_params):
            os.unlink(tmp_params)
        if isinstance(e, OSError):
            raise LaminarError(f"cannot start {exe}: {e}", None, command=args) from e
        raise
    if rc != 0:
        if tmp_params is not None:
            os.unlink(tmp_params)
        err = _error_from(rc, stdout, stderr, args)
        if progress is not None and "--progress" in err.message and "jsonl" in " ".join(args):
            err.message += " (this laminar may predate `--progress jsonl`: run without progress=, or rebuild it)"
            err.args = (f"laminar: error: {err.message} (exit status {rc})",)
        raise err
    if tmp_params is not None:
        os.replace(tmp_params, written)
    if not out:
        raise LaminarError(f"{params_path}: ran, but its output folder is unknown (no simulation.output); "
                           "give output=...", rc, stderr, stdout, args)
    result = Run(os.path.join(where, out))
    result.stdout, result.stderr = stdout, stderr
    return result


# --- laminar check

_SIZE = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
_LAYER = re.compile(r"^  (?P<name>\S+) \((?P<type>[^)]*)\): (?P<ny>\d+)x(?P<nx>\d+)x(?P<nf>\d+)"
                    r"(?:, (?P<images>\d+) images)?(?:; (?P<summary>.*))?$")
_CONN = re.compile(r"^  (?P<name>\S+) \((?P<type>[^)]*)\): (?P<pre>[^\s,]+) -> (?P<post>[^\s,]+)(?P<rest>.*)$")
_WEIGHTS = re.compile(r"weights (\d+)x(\d+)x(\d+)x(\d+)")
_MEM_HEAD = re.compile(r"^memory: about (?P<per>[\d.e+-]+ \w+) per process(?P<ranks> \([^)]*\))?, "
                       r"(?P<avail>[\d.e+-]+ \w+) available per process(?: \(at most (?P<limit>[\d.e+-]+ \w+) may be used\))?")
_MEM_ITEM = re.compile(r"^  (?P<size>[\d.e+-]+ \w+)  (?P<object>[^:]+): (?P<what>.*)$")
_SIM = re.compile(r"^simulation: (?P<steps>\d+) steps, dt (?P<dt>\S+), batch (?P<batch>\d+), display period "
                  r"(?P<dp>\d+), seed (?P<seed>\d+), output (?P<output>.*)$")


def _bytes(text: str) -> Optional[float]:
    num, _, unit = text.partition(" ")
    try:
        return float(num) * _SIZE.get(unit, 1)
    except ValueError:
        return None


def parse_check(text: str) -> dict:
    """`laminar check`'s report as a dict: simulation, backend, layers {name: {type, ny, nx, nf, images,
    summary}}, connections {name: {type, pre, post, weights (kernels, py, px, nf) or None, learning}},
    probes {name: {type}}, memory {per_process_bytes, available_bytes, limit_bytes, items: [...], text},
    schedule (text), plugins, text (all of it)."""
    info = {"file": None, "ok": False, "plugins": [], "simulation": {}, "backend": None, "layers": {},
            "connections": {}, "probes": {}, "memory": {"items": []}, "schedule": "", "text": text}
    lines = text.splitlines()
    section = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.endswith(": OK") and info["file"] is None and i == 0:
            info["file"], info["ok"] = ln[:-4], True
        elif ln.startswith("plugin: "):
            info["plugins"].append(ln[len("plugin: "):])
        elif m := _SIM.match(ln):
            info["simulation"] = {"steps": int(m["steps"]), "dt": float(m["dt"]), "batch_size": int(m["batch"]),
                                  "display_period": int(m["dp"]), "seed": int(m["seed"]), "output": m["output"]}
        elif ln.startswith("backend: "):
            info["backend"] = ln[len("backend: "):]
        elif ln == "layers:":
            section = "layers"
        elif ln == "connections:":
            section = "connections"
        elif ln.startswith("probes:"):
            section = None
            for name, kind in re.findall(r"(\S+) \(([^)]*)\)", ln[len("probes:"):]):
                info["probes"][name] = {"type": kind}
        elif ln.startswith("memory:"):
            section = "memory"
            mem = info["memory"]
            mem["text"] = ln
            if m := _MEM_HEAD.match(ln):
                mem["per_process_bytes"] = _bytes(m["per"])
                mem["available_bytes"] = _bytes(m["avail"])
                mem["limit_bytes"] = _bytes(m["limit"]) if m["limit"] else None
        elif section == "layers" and (m := _LAYER.match(ln)):
            info["layers"][m["name"]] = {"type": m["type"], "ny": int(m["ny"]), "nx": int(m["nx"]), "nf": int(m["nf"]),
                                         "images": int(m["images"]) if m["images"] else None,
                                         "summary": m["summary"]}
        elif section == "connections" and (m := _CONN.match(ln)):
            w = _WEIGHTS.search(m["rest"])
            info["connections"][m["name"]] = {"type": m["type"], "pre": m["pre"], "post": m["post"],
                                              "weights": tuple(int(x) for x in w.groups()) if w else None,
                                              "learning": ", learning" in m["rest"]}
        elif section == "memory" and (m := _MEM_ITEM.match(ln)):
            info["memory"]["items"].append({"bytes": _bytes(m["size"]), "object": m["object"], "what": m["what"]})
            info["memory"]["text"] += "\n" + ln
        elif section == "memory" and not ln.startswith("  "):
            info["schedule"] = "\n".join(lines[i:]) + "\n"  # the rest: the update schedule
            break
        i += 1
    return info


def check(params: Params, set: Sets = None, executable=None, cwd=None) -> dict:  # noqa: A002
    """`laminar check` (everything validated and planned, nothing allocated or run) parsed into a dict
    (see `parse_check`); bad params raise LaminarError with laminar's message."""
    exe = find_executable(executable)
    where = os.fspath(cwd) if cwd is not None else os.getcwd()
    with tempfile.TemporaryDirectory(prefix="laminar-check-") as tmp:
        if isinstance(params, Mapping):
            path = os.path.join(tmp, PARAMS_INPUT)
            with open(path, "w", encoding="utf-8") as f:
                f.write(_params_text(params))
        else:
            path = os.fspath(params)
        args = command(exe, "check", path, sets=set)
        try:
            proc = subprocess.run(args, capture_output=True, text=True, cwd=where)
        except OSError as e:
            raise LaminarError(f"cannot start {exe}: {e}", None, command=args) from e
    if proc.returncode != 0:
        raise _error_from(proc.returncode, proc.stdout, proc.stderr, args)
    return parse_check(proc.stdout)


__all__ = ["run", "check", "parse_check", "find_executable", "command", "LaminarError", "PARAMS_INPUT"]
