#!/usr/bin/python3
"""Plugins end to end, as a researcher would use them.

Usage: test_plugins.py CMAKE BUILD_DIR SOURCE_DIR GENERATOR CXX_COMPILER MPIRUN|none

1. Installs the current build tree into a temporary prefix (`cmake --install BUILD --prefix TMP`).
2. Builds tutorials/05-custom-plugin (a copy) against it with find_package(Laminar) and
   laminar_add_plugin, and checks that the plugin holds no copy of Laminar's own functions.
3. Runs the tutorial's params.yaml (its `plugins:` entry relative to the params file's folder) with
   the installed laminar from another folder, on generated images, and checks the plugin probe's
   output against numpy (the tutorial's check.py, recomputing winners from the recorded V1 code),
   including a tampered copy that check.py must reject; with MPI, again under `mpirun -np 2`.
4. Builds small broken plugins (tests/plugins/bad) and checks that each gives its clear error:
   missing file, not a shared library, missing symbol, wrong API version, kind name clashing with
   a built-in kind and with another plugin's; plus `plugins:` errors with file:line:col.
"""
import pathlib
import re
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

# The plugin API version of the laminar under test (framework/Plugin.hpp); wrong_api.cpp claims one more.
API_VERSION = int(re.search(r"#define LAMINAR_PLUGIN_API_VERSION (\d+)",
                            (pathlib.Path(__file__).resolve().parents[2] / "framework/Plugin.hpp").read_text()).group(1))

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def sh(cmd, cwd=None, check=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)
    if check and r.returncode != 0:
        sys.stderr.write(f"$ {' '.join(cmd)}\n{r.stdout}\n{r.stderr}\n")
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}")
    return r


def expect_error(what, cmd, substrings, cwd=None):
    """laminar must exit 2 with one `laminar: error:` line containing every substring."""
    r = sh(cmd, cwd=cwd, check=False)
    err = r.stderr.strip()
    ok = r.returncode == 2 and err.startswith("laminar: error:") and len(err.splitlines()) == 1
    missing = [s for s in substrings if s not in err]
    if not ok or missing:
        failures.append(f"{what}: exit {r.returncode}, stderr {err!r}, missing {missing}")
    print(f"[{'ok' if ok and not missing else 'FAIL'}] {what}: {err}")


def main():
    cmake, build, source, generator, cxx, mpirun = sys.argv[1:7]
    tmp = tempfile.mkdtemp(prefix="laminar-plugins-")
    try:
        prefix = os.path.join(tmp, "prefix")
        sh([cmake, "--install", build, "--prefix", prefix])
        laminar = os.path.join(prefix, "bin", "laminar")
        for f in ("bin/laminar", "lib/cmake/Laminar/LaminarConfig.cmake", "lib/cmake/Laminar/LaminarConfigVersion.cmake",
                  "include/laminar/framework/Plugin.hpp", "include/laminar/probes/StatsProbe.hpp"):
            if not os.path.exists(os.path.join(prefix, f)):
                failures.append(f"install: {f} missing")

        # --- The tutorial plugin, built out of tree against the installed package.
        tut = os.path.join(tmp, "tutorial")
        shutil.copytree(os.path.join(source, "tutorials", "05-custom-plugin"), tut,
                        ignore=shutil.ignore_patterns("build", "output"))
        configure = [cmake, "-G", generator, f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_COMPILER={cxx}"]
        sh(configure + ["-S", tut, "-B", os.path.join(tut, "build")])
        sh([cmake, "--build", os.path.join(tut, "build")])
        plugin = os.path.join(tut, "build", "winner_take_all.so")
        # One definition: the plugin must not carry its own (strong) copy of Laminar's functions.
        syms = sh(["nm", "-DC", "--defined-only", plugin]).stdout.splitlines()
        strong = [s for s in syms if " T " in s or " D " in s or " B " in s]
        if sorted(s.split()[-1] for s in strong) != ["laminar_plugin_api_version", "laminar_register"]:
            failures.append(f"plugin defines more than its two entry points: {strong}")
        undefined = sh(["nm", "-DC", "--undefined-only", plugin]).stdout
        if "laminar::Registry::add" not in undefined:
            failures.append("plugin does not take Registry::add from the executable")

        # describe documents the plugin's kind.
        md = sh([laminar, "describe", "--plugin", plugin, "--markdown"]).stdout
        for s in ("### WinnerTakeAll (probe)", "From plugin `", "| `score` | choice | `sum` |", "### Stats (probe)"):
            if s not in md:
                failures.append(f"describe --plugin --markdown lacks {s!r}")

        # Images: 8 smooth random 28x28 images (blobs), so that V1's code is not all zero.
        rng = np.random.default_rng(3)
        yy, xx = np.mgrid[0:28, 0:28]
        images = np.zeros((8, 28, 28), np.float32)
        for i in range(8):
            for _ in range(3):
                cy, cx, s = rng.uniform(4, 24), rng.uniform(4, 24), rng.uniform(2, 5)
                images[i] += rng.uniform(0.5, 1.5) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        data = os.path.join(tmp, "images.h5")
        with h5py.File(data, "w") as f:
            f["images"] = images
        out = os.path.join(tmp, "out")
        elsewhere = os.path.join(tmp, "elsewhere")  # not the params file's folder: plugins: is relative to it
        os.makedirs(elsewhere)
        params = os.path.join(tut, "params.yaml")
        run = [laminar, "run", params, "-q", "--set", f"layers.Input.path={data}", "--output", out]
        r = sh(run, cwd=elsewhere)
        r = sh([sys.executable, os.path.join(tut, "check.py"), out])
        print(r.stdout.strip())
        with h5py.File(os.path.join(out, "laminar.h5"), "r") as f:
            shape = f["probes/Winner/winner"].shape
        if shape != (4, 4):
            failures.append(f"probes/Winner/winner has shape {shape}, expected (4 samples, 4 batch)")
        # A negative control: check.py must reject a tampered winner.
        bad = os.path.join(tmp, "tampered")
        shutil.copytree(out, bad)
        with h5py.File(os.path.join(bad, "laminar.h5"), "r+") as f:
            w = f["probes/Winner/winner"]
            w[1, 2] = (w[1, 2] + 1) % 16
        if sh([sys.executable, os.path.join(tut, "check.py"), bad], check=False).returncode != 1:
            failures.append("check.py accepted a tampered winner")
        if mpirun != "none":  # every process loads the plugin; the probe gathers V1 onto rank 0
            out2 = os.path.join(tmp, "out-mpi")
            env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
                       OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
            cmd = [mpirun, "--oversubscribe", "-np", "2", laminar, "run", params, "-q", "--set",
                   f"layers.Input.path={data}", "--output", out2, "--set", "simulation.mpi_rows=2"]
            r = subprocess.run(cmd, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                failures.append(f"mpirun -np 2: exit {r.returncode}: {r.stdout} {r.stderr}")
            else:
                r = sh([sys.executable, os.path.join(tut, "check.py"), out2], check=False)
                print("mpirun -np 2:", r.stdout.strip().splitlines()[-1])
                if r.returncode != 0:
                    failures.append("mpirun -np 2: " + r.stdout)
        # The same plugin from --plugin and from plugins: is loaded once (no clash with itself).
        sh(run + ["--plugin", plugin, "--overwrite"], cwd=elsewhere)

        # --- Broken plugins.
        badb = os.path.join(tmp, "bad")
        sh(configure + ["-S", os.path.join(HERE, "bad"), "-B", badb])
        sh([cmake, "--build", badb])
        fake = os.path.join(tmp, "fake.so")
        with open(fake, "w") as f:
            f.write("this text file is not a shared library, whatever its name says.\n" * 4)
        base = [laminar, "check", params, "--set", f"layers.Input.path={data}"]
        expect_error("missing file (--plugin)", base + ["--plugin", "nowhere/missing.so"],
                     ["--plugin nowhere/missing.so: plugin file 'nowhere/missing.so' not found"], cwd=elsewhere)
        expect_error("not a shared library", base + ["--plugin", fake],
                     [f"--plugin {fake}: cannot load plugin '{fake}': ", "invalid ELF header"])
        so = lambda n: os.path.join(badb, n + ".so")
        expect_error("missing symbol", base + ["--plugin", so("no_symbol")],
                     [f"plugin '{so('no_symbol')}' does not export `laminar_plugin_api_version`",
                      "LAMINAR_PLUGIN(registry)"])
        expect_error("wrong API version", base + ["--plugin", so("wrong_api")],
                     [f"built for plugin API version {API_VERSION + 1}", f"has plugin API version {API_VERSION}"])
        expect_error("clash with a built-in kind", base + ["--plugin", so("clash_builtin")],
                     [f"probe type 'Stats' (from plugin '{so('clash_builtin')}') clashes with the existing probe type "
                      "'Stats' (built-in)"])
        # The params file loads winner_take_all.so; --plugin clash_plugin.so was loaded first.
        expect_error("clash with another plugin's kind", base + ["--plugin", so("clash_plugin")],
                     [f"{params}:7:", "plugins[0]", f"probe type 'WinnerTakeAll' (from plugin '{plugin}') clashes "
                      f"with the existing probe type 'WinnerTakeAll' (from plugin '{so('clash_plugin')}')"])

        # --- plugins: in a params file: errors name the file, line and entry.
        def params_with(plugins_line):
            text = open(params).read().replace("plugins: [build/winner_take_all.so]", plugins_line)
            p = os.path.join(tut, "variant.yaml")
            with open(p, "w") as f:
                f.write(text)
            return p
        p = params_with("plugins: [build/winner_take_all.so, build/missing.so]")
        expect_error("missing file (plugins:)", [laminar, "check", p],
                     [f"{p}:7:", "plugins[1]", "relative to the params file's folder",
                      f"plugin file '{os.path.join(tut, 'build/missing.so')}' not found"], cwd=elsewhere)
        p = params_with(f"plugins: [{fake}]")
        expect_error("not a library (plugins:)", [laminar, "check", p], [f"{p}:7:", "plugins[0]", "cannot load plugin"])
        p = params_with("plugins: build/winner_take_all.so")
        expect_error("plugins: not a list", [laminar, "check", p], [f"{p}:7:10: plugins: expected a list"])
        p = params_with("")
        expect_error("kind used without its plugin", [laminar, "check", p, "--set", f"layers.Input.path={data}"],
                     ["probes.Winner.type: unknown probe type 'WinnerTakeAll'", "listed under `plugins:` or given with --plugin"])
    finally:
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("scratch folder kept:", tmp)
    for f in failures:
        print("FAIL:", f)
    print("plugins: all checks passed" if not failures else f"plugins: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
