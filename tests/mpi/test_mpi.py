"""MPI decomposition test: the same networks run in one process and under `mpirun -np 1, 2, 4` with
decompositions 1x1, 1x2, 2x1, 2x2 and batch splits must give the same output file.

Networks (one params file, several independent subnets, 16x16 inputs, batch 4):
  s1   single-layer LCA, stride 1 (V1 16x16x4, patch 5), learning with momentum
  s2   single-layer LCA, stride 2 (V1 8x8x6, patch 6), learning
  h    two-layer hierarchy with feedback: Input -> E1 <- D1 (V1 8x8, stride 2); V1 -> E2 <- D2 (V2 4x4,
       stride 2, patch 4, halos wider than a 2x2 tile); E2 inhibits V1; both dictionaries learn
each with learning ("L") and without ("I"); and aI, s2 without learning with an AdaptiveTimestep probe
(every rank must choose the same timescales from the global energy). Inference subnets: recorded activity, membranes, errors,
inputs (and their dataset items), energies and stats must be bit-identical to the single process.
Learning subnets: weights (recorded every display period and final) and energies within 1e-6 relative.

The single-process run itself is checked against laminar.reference (numpy, written from the
equations) for the stride-1 learning subnet, so the comparison chain ends in an independent reference.

usage: test_mpi.py LAMINAR_EXE MPIRUN
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

BATCH, DISPLAY, PERIODS = 4, 6, 4
STEPS = DISPLAY * PERIODS


def images(rng, n=12, ny=16, nx=16):
    x = rng.standard_normal((n, ny, nx, 1))
    k = np.ones(3) / 3
    for ax in (1, 2):  # a little smoothing so that codes are neither empty nor dense
        x = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), ax, x)
    return x.astype(np.float32)


def unit_weights(rng, nk, p, nf):
    w = rng.standard_normal((nk, p, p, nf))
    return (w / np.sqrt((w * w).sum(axis=(1, 2, 3), keepdims=True))).astype(np.float32)


def build(tmp):
    rng = np.random.default_rng(7)
    data = os.path.join(tmp, "images.h5")
    with h5py.File(data, "w") as f:
        f["images"] = images(rng)
    weights = {}
    L, C, P = {}, {}, {}

    def wfile(name, w):
        path = os.path.join(tmp, f"w_{name}.h5")
        with h5py.File(path, "w") as f:
            f["weights"] = w
        weights[name] = w
        return path

    def lca(nx, nf, lam=0.15, reset=None):
        d = {"type": "LCA", "nx": nx, "ny": nx, "nf": nf, "tau": 4.0, "lambda": lam, "threshold": "soft"}
        if reset:
            d["reset_on"] = reset
        return d

    def dictionary(tag, pre, post, patch, w, rate, name="D"):
        C[f"{name}_{tag}"] = {"type": "Convolution", "pre": pre, "post": post, "channel": "inhibitory",
                              "patch_size": patch, "init": "file", "init_file": wfile(f"{name}_{tag}", w),
                              "normalize": "l2", "learning_rate": rate, "momentum": 0.5 if rate else 0.0}
        C[f"{name}T_{tag}"] = {"type": "Transpose", "original": f"{name}_{tag}", "pre": post, "post": pre,
                               "channel": "excitatory"}

    for learn in (False, True):
        rate = 0.2 if learn else 0.0
        for kind in ("s1", "s2", "h"):
            tag = kind + ("L" if learn else "I")
            inp, err, v1 = f"Input_{tag}", f"Error_{tag}", f"V1_{tag}"
            L[inp] = {"type": "ImageInput", "path": data, "format": "hdf5", "normalize": "zero_mean",
                      "shuffle": True}
            L[err] = {"type": "Error"}
            C[f"InToErr_{tag}"] = {"type": "Identity", "pre": inp, "post": err}
            if kind == "s1":
                L[v1] = lca(16, 4, reset=inp)
                dictionary(tag, v1, err, 5, unit_weights(rng, 4, 5, 1), rate)
            else:
                L[v1] = lca(8, 6, reset=inp)
                dictionary(tag, v1, err, 6 if kind == "s2" else 4, unit_weights(rng, 6, 6 if kind == "s2" else 4, 1), rate)
            P[f"Energy_{tag}"] = {"type": "Energy", "layers": [err, v1]}
            P[f"Act_{tag}"] = {"type": "ActivityRecorder", "layer": v1, "period": 3}
            P[f"Mem_{tag}"] = {"type": "ActivityRecorder", "layer": v1, "buffer": "membrane", "period": 3}
            P[f"Err_{tag}"] = {"type": "ActivityRecorder", "layer": err, "period": 3}
            P[f"In_{tag}"] = {"type": "ActivityRecorder", "layer": inp}
            P[f"Stats_{tag}"] = {"type": "Stats", "layer": v1}
            P[f"W_{tag}"] = {"type": "WeightRecorder", "connection": f"D_{tag}", "png": False}
            if kind == "h":
                e2, v2 = f"E2_{tag}", f"V2_{tag}"
                L[e2] = {"type": "Error"}
                L[v2] = {"type": "LCA", "nx": 4, "ny": 4, "nf": 5, "tau": 4.0, "lambda": 0.1, "init_membrane": "uniform",
                         "init_min": -0.2, "init_max": 0.3, "reset_on": inp}
                C[f"V1ToE2_{tag}"] = {"type": "Identity", "pre": v1, "post": e2, "pre_buffer": "membrane"}
                dictionary(tag, v2, e2, 4, unit_weights(rng, 5, 4, 6), rate, name="D2")
                C[f"E2ToV1_{tag}"] = {"type": "Identity", "pre": e2, "post": v1, "channel": "inhibitory", "scale": 0.5}
                P[f"Energy2_{tag}"] = {"type": "Energy", "layers": [e2, v2]}
                P[f"Act2_{tag}"] = {"type": "ActivityRecorder", "layer": v2, "period": 3}
                P[f"Norm2_{tag}"] = {"type": "Norm", "layer": e2, "norm": "l2"}
                P[f"W2_{tag}"] = {"type": "WeightRecorder", "connection": f"D2_{tag}", "png": False}
    # The adaptive timestep (an AdaptiveTimestep probe, inference): the energy is computed whole on rank 0 and
    # broadcast, so every decomposition chooses the same timescales and gives the same run, bit for bit.
    arng = np.random.default_rng(11)  # its own stream: the subnets above and below keep their data
    tag = "aI"
    inp, err, v1 = f"Input_{tag}", f"Error_{tag}", f"V1_{tag}"
    L[inp] = {"type": "ImageInput", "path": data, "format": "hdf5", "normalize": "zero_mean", "shuffle": True}
    L[err] = {"type": "Error"}
    C[f"InToErr_{tag}"] = {"type": "Identity", "pre": inp, "post": err}
    L[v1] = lca(8, 6, reset=inp)
    dictionary(tag, v1, err, 6, unit_weights(arng, 6, 6, 1), 0.0)
    P[f"Energy_{tag}"] = {"type": "Energy", "layers": [err, v1]}
    P[f"Mem_{tag}"] = {"type": "ActivityRecorder", "layer": v1, "buffer": "membrane", "period": 3}
    P[f"Timestep_{tag}"] = {"type": "AdaptiveTimestep", "energy": f"Energy_{tag}", "layers": [v1], "tau_factor": 0.1,
                            "base_max": 50}  # s = 0.1 tau_eff: its own for each batch element
    # A canonical subnet from the system tests, checked against the numpy reference in every run.
    import systest as st
    from laminar import reference as ref
    sub = st.Subnet(tag="refL", images=(1.0 + st.random_images(rng, 8, 16, 16, 1)).astype(np.float32),
                    weights=st.random_weights(rng, 6, 6, 1),
                    lca=ref.LCAParams(nx=8, ny=8, nf=6, tau=5.0, lam=0.2, threshold="soft", reset_on_input=True),
                    dictionary=ref.DictionaryParams(patch=6, learning_rate=0.1, momentum=0.5, normalize="l2"),
                    input_normalize="standardize", record_period=DISPLAY, weight_period=DISPLAY)
    sub.write(tmp, {"simulation": {"dt": 1.0}, "layers": L, "connections": C, "probes": P})
    params = {"simulation": {"steps": STEPS, "batch_size": BATCH, "display_period": DISPLAY, "dt": 1.0, "seed": 3,
                             "output": "out", "csv": False},
              "layers": L, "connections": C, "probes": P}
    path = os.path.join(tmp, "net.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(params, f, sort_keys=False)
    return path, params, sub


# Learning sums each rank's dW in rank order, so learned weights (and the energies after them) agree to
# rounding. A device backend's GEMM Hebbian update accumulates each tile's sum in one float accumulator
# per weight, a little more rounding than the CPU's: measured worst 1.06e-6 (np 4, 2x2) against 6e-7.
LEARN_TOL = 1e-6 if os.environ.get("LAMINAR_TEST_BACKEND", "cpu") == "cpu" else 3e-6


def env():
    e = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1")
    return e


def run(exe, mpirun, params, out, np_=None, dec=None, expect_fail=False):
    cmd = [exe, "run", params, "-q", "--output", out]
    if os.environ.get("LAMINAR_TEST_BACKEND"):  # e.g. device_emulation: halo exchange of device buffers
        cmd += ["--set", f"simulation.backend={os.environ['LAMINAR_TEST_BACKEND']}"]
    if dec:
        for key, v in zip(("mpi_rows", "mpi_columns", "mpi_batch_groups"), dec):
            cmd += ["--set", f"simulation.{key}={v}"]
    if np_ is not None:
        cmd = [mpirun, "--oversubscribe", "-np", str(np_)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=60)
    if expect_fail:
        return p
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return os.path.join(out, "laminar.h5")


def datasets(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    exe, mpirun = sys.argv[1], sys.argv[2]
    failures, checks = [], 0
    with tempfile.TemporaryDirectory(prefix="laminar-mpi-") as tmp:
        os.chdir(tmp)
        params, pdict, sub = build(tmp)
        traj = sub.reference(BATCH, DISPLAY).run(STEPS)
        ref_file = run(exe, mpirun, params, os.path.join(tmp, "serial"))
        with h5py.File(ref_file) as f:
            ref = datasets(f)
        # The single process against the numpy reference: the chain of comparisons ends there.
        failures += check_against_numpy(ref_file, sub, traj, "serial")
        ts = ref["probes/Timestep_aI/timescale"]
        print(f"adaptive subnet: timescale max {ts.max():.3g} (batch elements differ: {not np.all(ts == ts[:, :1])})")
        if not (ts.max() > 1.5 and not np.all(ts == ts[:, :1])):  # else a batch split could not be told apart
            failures.append(f"the adaptive subnet's timescale did not adapt per batch element (max {ts.max()})")

        cases = [(1, None), (2, (1, 2, 1)), (2, (2, 1, 1)), (2, None), (4, (2, 2, 1)), (4, None), (4, (1, 2, 2))]
        for np_, dec in cases:
            label = f"np {np_} " + ("auto" if dec is None else "x".join(map(str, dec)))
            got_file = run(exe, mpirun, params, os.path.join(tmp, f"np{np_}-{'auto' if dec is None else ''.join(map(str, dec))}"),
                           np_, dec)
            with h5py.File(got_file) as f:
                got = datasets(f)
                decomp = f.attrs.get("mpi_decomposition")
            label += f" [{decomp}]"
            failures += check_against_numpy(got_file, sub, traj, label)
            if set(got) != set(ref):
                failures.append(f"{label}: datasets differ: {sorted(set(got) ^ set(ref))}")
                continue
            worst_exact, worst_learn = 0, 0.0
            for name, want in ref.items():
                have = got[name]
                checks += 1
                if have.shape != want.shape:
                    failures.append(f"{label}: {name} shape {have.shape} != {want.shape}")
                    continue
                tag = name.split("/")[1] if "/" in name else name
                learning = tag.endswith("L")
                if not learning or name.endswith("/step") or want.dtype.kind != "f":
                    n_diff = int(np.sum(have != want))
                    worst_exact = max(worst_exact, n_diff)
                    if n_diff:
                        failures.append(f"{label}: {name}: {n_diff} values differ (must be bit-identical)")
                elif name.split("/")[-1] in ("weights", "final_weights") or "Energy" in name:
                    # relative to the array's scale (weights: the largest weight; energies: each value)
                    diff = np.abs(have.astype(np.float64) - want)
                    scale = np.abs(want) if "Energy" in name else np.full(want.shape, np.max(np.abs(want)))
                    rel = float(np.max(np.where(diff == 0, 0.0, diff / np.maximum(scale, 1e-300)))) if want.size else 0.0
                    worst_learn = max(worst_learn, rel)
                    if rel > LEARN_TOL:
                        failures.append(f"{label}: {name}: relative difference {rel:.2e} > {LEARN_TOL:g}")
            print(f"{label}: {len(ref)} datasets; inference values differing: {worst_exact}; "
                  f"learning weights/energies worst relative difference {worst_learn:.2e}")

        # A decomposition that cannot divide the layers: a clear error, every rank stopped.
        p = run(exe, mpirun, params, os.path.join(tmp, "bad"), 3, expect_fail=True)
        checks += 1
        msg = p.stderr
        ok = p.returncode != 0 and "cannot be split" in msg and "layer '" in msg and "16 x 16" in msg
        print(f"np 3: exit {p.returncode}; message: {msg.strip().splitlines()[0] if msg.strip() else '(none)'}")
        if not ok:
            failures.append(f"np 3 must fail naming the layer and sizes; got {p.returncode}: {msg}")
        p = run(exe, mpirun, params, os.path.join(tmp, "bad2"), 2, (3, 1, 1), expect_fail=True)
        checks += 1
        ok = p.returncode != 0 and "mpi_rows" in p.stderr
        print(f"np 2 with mpi_rows 3: exit {p.returncode}; {p.stderr.strip().splitlines()[0] if p.stderr.strip() else ''}")
        if not ok:
            failures.append(f"np 2 with mpi_rows=3 must fail naming mpi_rows; got {p.returncode}: {p.stderr}")
        # One rank failing alone (rank 0 cannot create the output: a path below a regular file) stops
        # every rank with its message; the others would otherwise wait in the first collective.
        blocker = os.path.join(tmp, "a-file")
        open(blocker, "w").close()
        try:
            p = run(exe, mpirun, params, os.path.join(blocker, "out"), 4, (2, 2, 1), expect_fail=True)
            ok = p.returncode != 0 and "rank 0 of 4" in p.stderr and "cannot create output directory" in p.stderr
            print(f"np 4, rank 0 fails alone: exit {p.returncode}; "
                  f"{[l for l in p.stderr.splitlines() if 'laminar' in l][:1]}")
        except subprocess.TimeoutExpired:
            ok = False
            print("np 4, rank 0 fails alone: HANG (timeout)")
        checks += 1
        if not ok:
            failures.append("a failure on rank 0 alone must stop every rank with its message")
    if failures:
        print(f"{len(failures)} failures:")
        for f in failures:
            print("FAIL", f)
        return 1
    print(f"all {checks} comparisons passed")
    return 0


def check_against_numpy(h5file, sub, traj, label):
    """The subnet's weights after every learning event, final weights, energies and recorded code
    against laminar.reference (numpy) with the system tests' tolerances."""
    import systest as st
    from laminar.run import Run
    chk = st.Checker()
    run = Run(os.path.dirname(h5file))
    steps, hist = run.weight_history(sub.n("Weights"))
    chk.close(f"{label}: [numpy] weights after each learning event", hist, traj.weights[steps])
    chk.close(f"{label}: [numpy] final weights", run.final_weights(sub.n("Dictionary")), traj.weights[-1])
    st.compare_recorded(chk, run, sub, traj)
    return [f"{label}: {f}" for f in chk.failures]


if __name__ == "__main__":
    sys.exit(main())
