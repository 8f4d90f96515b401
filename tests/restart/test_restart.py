"""Runs that survive (issue 6): exact restart, SIGKILL/SIGTERM, non-finite guard, foreign checkpoints.

usage: test_restart.py LAMINAR CASE [MPIRUN]
CASE: equality | adaptive | momentum | sigkill | sigterm | nonfinite | refuse | identity | crafted | diskfull | mpi
(adaptive: the equality case with an AdaptiveTimestep probe, restarted mid display period;
momentum: the equality case with LCA momentum 0.9, whose previous-step buffer is checkpointed)

The reference for every restart is the same network run without interruption: every dataset of
laminar.h5 and every CSV table must be bit-identical (the definition of an exact restart). The
non-finite case checks the named layer, step and batch element against what the data file and the
presentation order (item = presentation * batch + b) imply.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

laminar, case = sys.argv[1], sys.argv[2]
mpirun = sys.argv[3] if len(sys.argv) > 3 else None
tmp = tempfile.mkdtemp(prefix="laminar-restart-")

NET = """
simulation: {{steps: {steps}, display_period: 25, batch_size: 2, output: {tmp}/out, checkpoint_every: {every},
             checkpoint_keep: 2, seed: 5, csv: true}}
layers:
  Input: {{type: ImageInput, path: {data}, shuffle: true, normalize: standardize}}
  E: {{type: Error}}
  V1: {{type: LCA, nx: {n}, ny: {n}, nf: {nf}, tau: 20, lambda: 0.1, init_membrane: uniform, reset_on: Input{v1extra}}}
connections:
  I: {{type: Identity, pre: Input, post: E}}
  D: {{type: Convolution, pre: V1, post: E, channel: inhibitory, patch_size: 4, learning_rate: 0.05, momentum: 0.5}}
  T: {{type: Transpose, original: D, pre: E, post: V1}}
probes:
  Energy: {{type: Energy}}
  Stats: {{type: Stats, layer: V1}}
  Rec: {{type: ActivityRecorder, layer: V1, period: 25}}
  W: {{type: WeightRecorder, connection: D, period: 50}}
  Late: {{type: Norm, layer: E, period: 170}}
{extra}"""

# The adaptive case: every LCA step's dt from the energy (its controller state is checkpointed).
ADAPTIVE = "  Timestep: {type: AdaptiveTimestep, energy: Energy, tau_factor: 0.5, growth_factor: 0.5}\n"


def make(steps=200, every=30, size=12, n=6, nf=4, images=7, nan_at=None, extra="", v1extra=""):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((images, size, size, 1)).astype(np.float32)
    if nan_at is not None:
        x[nan_at] = np.nan
    data = os.path.join(tmp, "x.h5")
    with h5py.File(data, "w") as f:
        f["images"] = x
    p = os.path.join(tmp, "p.yaml")
    with open(p, "w") as f:
        f.write(NET.format(steps=steps, every=every, tmp=tmp, data=data, n=n, nf=nf, extra=extra,
                           v1extra=v1extra))
    return p


def run(params, *args, expect=0, prefix=()):
    r = subprocess.run(list(prefix) + [laminar, "run", params, "-q", *args], capture_output=True, text=True)
    if r.returncode != expect:
        sys.exit(f"laminar run {' '.join(args)}: exit {r.returncode}, expected {expect}\n{r.stdout}\n{r.stderr}")
    return r


def datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


FNV = 14695981039346656037


def fnv1a(data, h=FNV):
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def seal(path, check=False):
    """The checkpoint digest as Laminar computes it (FNV-1a 64 over every object's name, its attributes'
    names and bytes but the root's `digest`, and every dataset's shape and bytes, in name order); with
    check, whether the stored digest equals it, else store it (re-seal an edited file)."""
    import h5py.h5a as h5a

    def attr_bytes(obj):
        out = []
        names = []
        obj.id  # noqa: B018
        h5a.iterate(obj.id, lambda n: names.append(n) and None)
        for name in sorted(names):
            if name == b"digest" and obj.name == "/":
                continue
            a = h5a.open(obj.id, name)
            arr = np.empty(a.shape, dtype=a.dtype)
            a.read(arr)
            out.append(name + b"\0" + arr.tobytes())
        return out

    h = FNV
    with h5py.File(path, "r+" if not check else "r") as f:
        objs = ["."]
        f.visit(lambda n: objs.append(n) and None)
        for n in objs:
            o = f if n == "." else f[n]
            h = fnv1a(n.encode() + b"\0", h)
            for piece in attr_bytes(o):
                h = fnv1a(piece, h)
            if isinstance(o, h5py.Dataset):
                h = fnv1a(np.array(o.shape, dtype=np.uint64).tobytes(), h)
                h = fnv1a(o[()].tobytes(), h)
        digest = f"{h:016x}"
        if check:
            stored = f.attrs["digest"]
            return (stored.decode() if isinstance(stored, bytes) else stored) == digest
        f.attrs["digest"] = np.bytes_(digest.encode())
    return True


def same_output(a, b):
    da, db = datasets(os.path.join(a, "laminar.h5")), datasets(os.path.join(b, "laminar.h5"))
    assert sorted(da) == sorted(db), (sorted(da), sorted(db))
    for k in da:
        assert da[k].shape == db[k].shape and da[k].dtype == db[k].dtype, (k, da[k].shape, db[k].shape)
        assert np.array_equal(da[k], db[k]), f"{k} differs after the restart"
    late = list(da["probes/Late/step"])  # a table begun after a checkpoint
    assert late == list(range(169, len(late) * 170, 170)) and late, late
    for name in ("Energy", "Stats", "Late") + (("Timestep",) if "probes/Timestep/timescale" in da else ()):
        with open(os.path.join(a, name + ".csv"), "rb") as fa, open(os.path.join(b, name + ".csv"), "rb") as fb:
            assert fa.read() == fb.read(), f"{name}.csv differs after the restart"
    return len(da)


def reference(params, prefix=()):
    ref = os.path.join(tmp, "ref")
    t0 = time.time()
    run(params, "-o", ref, prefix=prefix)
    return ref, time.time() - t0


if case in ("equality", "adaptive", "momentum"):
    p = make(extra=ADAPTIVE if case == "adaptive" else "", v1extra=", momentum: 0.9" if case == "momentum" else "")
    ref, _ = reference(p)
    out = os.path.join(tmp, "cut")
    run(p, "-o", out, "--steps", "70")               # ends at 70 (checkpoints 60, 70)
    run(p, "-o", out, "--steps", "130", "--resume")  # 70 -> 130, checkpoints 120, 130
    run(p, "-o", out, "--restart", os.path.join(out, "checkpoints", "step-000000120.h5"))  # an older one: 120 -> 200
    n = same_output(ref, out)
    # --restart of an output folder picks its newest checkpoint; resuming a finished run changes nothing.
    run(p, "-o", out, "--restart", out)
    same_output(ref, out)
    # Into a fresh directory: the output from the checkpoint on (rows after step 120 equal the reference).
    fresh = os.path.join(tmp, "fresh")
    run(p, "-o", fresh, "--restart", os.path.join(out, "checkpoints"), "--steps", "200")
    if case == "adaptive":  # the timestep really adapted, and resumed mid-period (checkpoints at 60, 70, 120)
        ts = datasets(os.path.join(ref, "laminar.h5"))["probes/Timestep/timescale"]
        assert ts.max() > 2 and ts.min() == 1.0, (ts.min(), ts.max())
        assert not np.all(ts[60] == 1.0) and not np.all(ts[120] == 1.0), (ts[60], ts[120])
    if case == "momentum":  # the previous step is in the checkpoints, and not zero
        ck = os.path.join(out, "checkpoints")
        names = sorted(n for n in os.listdir(ck) if n.endswith(".h5"))
        assert names, "no checkpoints"
        for name in names:
            with h5py.File(os.path.join(ck, name), "r") as f:
                step = f["layers/V1/momentum_step"][...]
                assert step.shape == f["layers/V1/membrane"].shape and np.abs(step).max() > 1e-4, (name, step.shape)
    print(f"restart {case}: {n} datasets and the CSV tables bit-identical after 3 restarts")

elif case == "sigkill":
    # A bigger layer so that a run lasts long enough to be killed at random points.
    p = make(steps=int(os.environ.get("LAMINAR_KILL_STEPS", "1000")), every=20, size=32, n=16, nf=16, images=9)
    ref, seconds = reference(p)
    out = os.path.join(tmp, "killed")
    rnd = random.Random(int(os.environ.get("LAMINAR_KILL_SEED", "0")) or None)
    kills = 0
    seen_tmp, newest = {}, None
    for attempt in range(8):
        proc = subprocess.Popen([laminar, "run", p, "-q", "-o", out, "--resume"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        delay = rnd.uniform(0.1, 0.35) * seconds
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), (proc.returncode, err)
        ck = os.path.join(out, "checkpoints")
        # A temporary left by the previous attempt must be gone: the same name may come back (this attempt
        # was killed while writing the same step again), but then it is a new file, written later.
        tmps = {n: (st.st_ino, st.st_mtime_ns) for n in (os.listdir(ck) if os.path.isdir(ck) else [])
                if n.endswith(".tmp") and (st := os.stat(os.path.join(ck, n)))}
        done = sorted(n for n in (os.listdir(ck) if os.path.isdir(ck) else []) if n.endswith(".h5"))
        # Temporaries are removed once a checkpoint has been written: an attempt killed before its first
        # checkpoint (while starting up) has not had the chance yet.
        if done and done[-1] != newest:
            assert not [n for n, ident in tmps.items() if seen_tmp.get(n) == ident], "stale temporary checkpoint kept"
        seen_tmp, newest = tmps, (done[-1] if done else None)
        print(f"attempt {attempt}: killed after {delay:.2f}s; checkpoints {sorted(os.listdir(ck)) if os.path.isdir(ck) else []}")
        if proc.returncode == 0:
            break
    run(p, "-o", out, "--resume")
    n = same_output(ref, out)
    assert kills >= 3, f"only {kills} kills landed (run too fast: {seconds:.2f}s)"
    print(f"sigkill: {kills} SIGKILLs at random points, resumed to {n} bit-identical datasets")

elif case == "sigterm":
    p = make(steps=100000, every=0, size=32, n=16, nf=16, images=9)
    out = os.path.join(tmp, "term")
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        proc = subprocess.Popen([laminar, "run", p, "-q", "-o", out, "--resume"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, (proc.returncode, err)
        assert "interrupted by " + sig.name in err and "checkpoint written" in err, err
        path = err.split("checkpoint written: ")[1].split(" ")[0]
        assert os.path.exists(path), path
        with h5py.File(path) as c:
            step = int(c.attrs["step"])
            assert c.attrs["reason"] in (b"interrupted", "interrupted")
        with h5py.File(os.path.join(out, "laminar.h5")) as f:  # the output is complete up to the checkpoint
            assert f["probes/Energy/step"][-1] == step - 1, (f["probes/Energy/step"][-1], step)
        print(f"{sig.name}: exit {code}, checkpoint at step {step}")
    # The interrupted-and-resumed run equals an uninterrupted one of the same length.
    p = make(steps=200, every=0)
    ref, _ = reference(p)
    out = os.path.join(tmp, "term2")
    proc = subprocess.Popen([laminar, "run", p, "-q", "-o", out, "--steps", "100000"], stderr=subprocess.PIPE, text=True)
    while not os.path.exists(os.path.join(out, "laminar.h5")):
        time.sleep(0.01)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    step = int(err.split("after ")[1].split(" ")[0])
    if step < 200:
        run(p, "-o", out, "--resume")
        same_output(ref, out)
        print(f"SIGTERM at step {step}, resumed: bit-identical")

elif case == "nonfinite":
    # Image 3 holds a NaN; unshuffled, batch 2: presentation 1 (steps 25..49) shows items 2, 3, so the
    # NaN enters layer Input at step 25, batch element 1, and the last good state is after 25 steps.
    p = make(nan_at=(3, 5, 5, 0))
    r = run(p, "--set", "layers.Input.shuffle=false", "--set", "simulation.checkpoint_every=0", expect=4)
    assert "NaN in layer 'Input' (activity) at step 25, batch element 1" in r.stderr, r.stderr
    ck = os.path.join(tmp, "out", "checkpoints", "step-000000025.h5")
    assert ck in r.stderr, r.stderr
    with h5py.File(ck) as c:
        assert c.attrs["reason"] in (b"non-finite", "non-finite")
        for k in ("layers/Input/activity", "layers/V1/membrane", "connections/D/weights"):
            assert np.isfinite(c[k][()]).all(), k
        np.testing.assert_array_equal(c["layers/Input/items"][()], [0, 1])
    # A diverging integrator (forward Euler at dt = tau with a large, unnormalised dictionary) names
    # the layer where values first overflow, after a checkpoint of finite values.
    w = os.path.join(tmp, "w.h5")
    with h5py.File(w, "w") as f:
        f["weights"] = np.full((4, 4, 4, 1), 3.0, np.float32)
    shutil.rmtree(os.path.join(tmp, "out"))
    p = make()
    r = run(p, "--set", "layers.V1.integrator=euler", "--set", "layers.V1.tau=1", "--set",
            "connections.D.init=file", "--set", f"connections.D.init_file={w}", "--set",
            "connections.D.init_dataset=weights", "--set", "connections.D.normalize=none", "--set",
            "connections.D.learning_rate=0", "--set", "simulation.checkpoint_every=0", expect=4)
    msg = r.stderr
    assert "in layer 'E' (activity)" in msg or "in layer 'V1'" in msg, msg
    step = int(msg.split("at step ")[1].split(",")[0])
    path = msg.split("saved in ")[1].split(" ")[0]
    with h5py.File(path) as c:
        assert int(c.attrs["step"]) == step  # checked every step: the state just before the failing step
        for k in ("layers/E/activity", "layers/V1/membrane", "layers/V1/activity"):
            assert np.isfinite(c[k][()]).all(), k
    print("non-finite guard:", msg.strip().splitlines()[-1][:120])

elif case == "refuse":
    p = make()
    out = os.path.join(tmp, "out")
    run(p, "--steps", "60")
    ck = os.path.join(out, "checkpoints")
    r = run(p, "--resume", "--set", "layers.V1.lambda=0.2", expect=2)
    assert "checkpoint of a different network: layers.V1.lambda is 0.1 there but 0.2 here" in r.stderr, r.stderr
    r = run(p, "--restart", ck, "--set", "connections.D.patch_size=2", expect=2)
    assert "connections.D.patch_size is 4 there but 2 here" in r.stderr, r.stderr
    old = os.path.join(tmp, "old.h5")
    shutil.copy(os.path.join(ck, "step-000000060.h5"), old)
    with h5py.File(old, "a") as f:
        f.attrs["format_version"] = np.int64(1)
    r = run(p, "--restart", old, expect=2)
    assert "checkpoint format version 1, but this Laminar reads 3" in r.stderr, r.stderr
    r = run(p, "--restart", os.path.join(tmp, "nowhere"), expect=2)
    assert "no such checkpoint" in r.stderr, r.stderr
    # A damaged output file is named as such (and the checkpoint left alone).
    with open(os.path.join(out, "laminar.h5"), "r+b") as f:
        f.write(b"\0" * 4096)
    r = run(p, "--resume", expect=2)
    assert "laminar.h5: cannot resume this output: the file is damaged" in r.stderr, r.stderr
    # `laminar check` reports memory per process by buffer: V1 6x6x4 x batch 2 x (activity, membrane,
    # 2 channels, nan_check copies of activity and membrane) floats = 6912 bytes.
    r = subprocess.run([laminar, "check", p], capture_output=True, text=True, check=True)
    line = [l for l in r.stdout.splitlines() if "layers.V1:" in l][0]
    assert "6x6x4 neurons x batch 2 x 6 buffers" in line and abs(float(line.split()[0]) * 2**20 - 6912) < 5, line
    assert "per process" in r.stdout, r.stdout
    r = subprocess.run([laminar, "check", p, "--set", "layers.V1.nf=16000000", "--set", "simulation.batch_size=8"], capture_output=True, text=True)
    assert r.returncode == 2 and "layers.V1: needs about" in r.stderr and "available per process" in r.stderr, r.stderr
    print("refusals: different network, format version, missing checkpoint, damaged output; check's memory table")

elif case == "identity":
    # A run owns its folder (issue 13, item 1): another run is refused, --overwrite replaces it, and a
    # resume refuses output that is not its own (laminar.h5, a CSV table or a checkpoint of another run).
    p = make(steps=200, every=50)
    out = os.path.join(tmp, "out")
    run(p, "--steps", "120")
    energy_a = open(os.path.join(out, "Energy.csv"), "rb").read()
    r = run(p, "--set", "layers.V1.lambda=0.2", expect=2)
    assert "already holds the output of a run (laminar.h5, checkpoints/)" in r.stderr and "--overwrite" in r.stderr, r.stderr
    assert open(os.path.join(out, "Energy.csv"), "rb").read() == energy_a, "a refused run changed the table"
    r = run(p, "--overwrite", "--resume", expect=2)
    assert "cannot be combined" in r.stderr, r.stderr
    run(p, "--set", "layers.V1.lambda=0.2", "--overwrite", "--steps", "120")  # run B replaces A
    with h5py.File(os.path.join(out, "laminar.h5")) as f:
        params = f.attrs["params"]
        assert "lambda: 0.2" in (params.decode() if isinstance(params, bytes) else params) and len(f.attrs["run_id"]) == 32
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["step-000000100.h5", "step-000000120.h5"]
    r = run(p, "--resume", expect=2)  # A cannot continue B's checkpoints
    assert "checkpoint of a different network: layers.V1.lambda is 0.2 there but 0.1 here" in r.stderr, r.stderr

    # Only laminar.h5 replaced by another run's (same network, so the params agree): refused by run id.
    a, c = os.path.join(tmp, "a"), os.path.join(tmp, "c")
    run(p, "-o", a, "--steps", "120")
    run(p, "-o", c, "--steps", "120")
    keep = os.path.join(tmp, "a-laminar.h5")
    shutil.copy(os.path.join(a, "laminar.h5"), keep)
    shutil.copy(os.path.join(c, "laminar.h5"), os.path.join(a, "laminar.h5"))
    r = run(p, "-o", a, "--resume", expect=2)
    assert "cannot resume this output: it holds run" in r.stderr and "belongs to run" in r.stderr, r.stderr
    shutil.copy(keep, os.path.join(a, "laminar.h5"))
    # A table of another run (same length, other bytes): refused by its hash.
    ea = open(os.path.join(a, "Energy.csv"), "rb").read()
    edited = ea.replace(b",", b";", 1)
    with open(os.path.join(a, "Energy.csv"), "wb") as f:
        f.write(edited)
    r = run(p, "-o", a, "--resume", expect=2)
    assert "Energy.csv: cannot resume this table" in r.stderr and "not the ones this run wrote" in r.stderr, r.stderr
    with open(os.path.join(a, "Energy.csv"), "wb") as f:
        f.write(ea)
    # A checkpoint of another run among the folder's: refused before anything is cut.
    shutil.copy(os.path.join(c, "checkpoints", "step-000000100.h5"), os.path.join(a, "checkpoints", "step-000000100.h5"))
    r = run(p, "-o", a, "--resume", expect=2)
    assert "a checkpoint of another run" in r.stderr, r.stderr
    os.remove(os.path.join(a, "checkpoints", "step-000000100.h5"))
    run(p, "-o", a, "--resume")  # everything its own again: 120 -> 200, equal to an uninterrupted run
    ref, _ = reference(p)
    n = same_output(ref, a)

    # --resume without a checkpoint: the same network starts over, another network is refused.
    d = os.path.join(tmp, "d")
    run(p, "-o", d, "--set", "simulation.checkpoint_every=0", "--steps", "40")
    run(p, "-o", d, "--set", "simulation.checkpoint_every=0", "--resume")
    r = run(p, "-o", d, "--set", "simulation.checkpoint_every=0", "--set", "layers.V1.lambda=0.3", "--resume", expect=2)
    assert "holds the output of a different network (layers.V1.lambda is 0.1 there but 0.3 here)" in r.stderr, r.stderr

    # init_file inside the output folder (item 3): read before the folder's run is replaced.
    with h5py.File(os.path.join(d, "laminar.h5")) as f:
        w0 = f["connections/D/final_weights"][()]
    copy = os.path.join(tmp, "init-copy.h5")
    shutil.copy(os.path.join(d, "laminar.h5"), copy)

    def init(path):
        return ["--set", "connections.D.init=file", "--set", f"connections.D.init_file={path}", "--set",
                "connections.D.init_dataset=connections/D/final_weights", "--set", "simulation.checkpoint_every=0",
                "--steps", "30"]
    r = run(p, "-o", d, *init(f"{d}/laminar.h5"), expect=2)  # without --overwrite: refused, the file untouched
    with h5py.File(os.path.join(d, "laminar.h5")) as f:
        np.testing.assert_array_equal(f["connections/D/final_weights"][()], w0)
    run(p, "-o", os.path.join(tmp, "from-copy"), *init(copy))  # the reference: the same weights from elsewhere
    run(p, "-o", d, *init(f"{d}/laminar.h5"), "--overwrite")
    with h5py.File(os.path.join(d, "laminar.h5")) as f, h5py.File(os.path.join(tmp, "from-copy", "laminar.h5")) as g:
        np.testing.assert_array_equal(f["connections/D/final_weights"][()], g["connections/D/final_weights"][()])
        assert int(f["probes/Energy/step"][-1]) == 29
    # laminar.h5 existing as a folder (item 10): named as such, not "directory not writable?".
    e = os.path.join(tmp, "e")
    os.makedirs(os.path.join(e, "laminar.h5"))
    r = run(p, "-o", e, expect=2)
    assert "laminar.h5: exists and is not a regular file (a folder, link or device)" in r.stderr, r.stderr
    print(f"identity: another run refused, --overwrite replaces, foreign laminar.h5/table/checkpoint refused; "
          f"resumed to {n} bit-identical datasets; init_file from the folder read before it is replaced")

elif case == "crafted":
    # Crafted checkpoints (item 5): every attribute and dataset is validated; the digest catches edits,
    # and a re-sealed edit (the digest recomputed, as a careful forger would) is caught by the checks.
    p = make(steps=200, every=50)
    out = os.path.join(tmp, "out")
    run(p, "--steps", "100")
    good = os.path.join(out, "checkpoints", "step-000000100.h5")
    with h5py.File(good) as f:
        assert f.attrs["digest"].decode() if isinstance(f.attrs["digest"], bytes) else f.attrs["digest"]
    assert seal(good, check=True), "the Python digest differs from Laminar's on an untouched checkpoint"

    def variant(name, edit, reseal, expect_text):
        path = os.path.join(tmp, name + ".h5")
        shutil.copy(good, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        if reseal:
            seal(path)
        r = run(p, "-o", os.path.join(tmp, "fresh-" + name), "--restart", path, expect=2)
        assert expect_text in r.stderr, (name, r.stderr)
        return r

    def set_attr(obj, key, value):
        def f(h):
            h[obj].attrs[key] = value
        return f

    def weights_nan(h):
        w = h["connections/D/weights"]
        a = w[()]
        a[0, 0, 0, 0] = np.nan
        w[...] = a

    def weight_changed(h):
        w = h["connections/D/weights"]
        a = w[()]
        a[0, 0, 0, 0] += 1e-3
        w[...] = a

    variant("edited", weight_changed, False, "the checkpoint is damaged or was edited")
    variant("nodigest", lambda h: h.attrs.__delitem__("digest"), False, "stored one absent")
    variant("step-100", set_attr("/", "step", np.int64(-100)), True, "attribute step is -100, not a step count")
    variant("step-1", set_attr("/", "step", np.int64(-1)), True, "attribute step is -1")
    variant("step0", set_attr("/", "step", np.int64(0)), True, "attribute step is 0")
    variant("stepbig", set_attr("/", "step", np.int64(10**6)), True, "beyond simulation.steps")
    variant("mark-nan", set_attr("/", "output_mark", np.bytes_(b"rows\tprobes/Energy/step\tabc\n")), True,
            "damaged output mark (line 1")
    variant("mark-huge", set_attr("/", "output_mark", np.bytes_(b"rows\tprobes/Energy/step\t99999999999999999999999\n")),
            True, "damaged output mark")
    variant("mark-kind", set_attr("/", "output_mark", np.bytes_(b"what\tever\t1\n")), True, "unknown entry")
    variant("counter", set_attr("layers/V1", "resets", np.int64(-5)), True, "layers/V1@resets is -5, not a count")
    variant("nanweights", weights_nan, True, "connections/D/weights holds a non-finite value (NaN at element 0)")
    variant("runid", set_attr("/", "run_id", np.bytes_(b"zz")), True, "is not a run id")
    variant("stepstr", set_attr("/", "step", np.bytes_(b"100")), True, "not a Laminar checkpoint")
    # A resealed but otherwise untouched checkpoint still resumes (the checks refuse only what is wrong).
    ok = os.path.join(tmp, "resealed.h5")
    shutil.copy(good, ok)
    seal(ok)
    run(p, "-o", os.path.join(tmp, "fresh-ok"), "--restart", ok)
    print("crafted checkpoints: 13 variants refused with the attribute named; an untouched one resumes")

elif case == "diskfull":
    # A full disk (items 2 and 4): a small tmpfs as the output folder. Exit 2 naming the file and the
    # cause, no crash; laminar.h5 readable with every row up to its last flush, tables cut at whole rows.
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mnt], capture_output=True).returncode != 0:
        print("SKIP: cannot mount a tmpfs here (needs root and mount permission)")
        sys.exit(77)
    try:
        results = []
        emulated = ["--set", "simulation.backend=device_emulation"]
        for label, sets, filler in (("recorder", ["--set", "probes.Rec.period=1"], 0),
                                    ("nearly-full", ["--set", "probes.Rec.period=5"], (20 << 20) - (16 << 20) - (4 << 20)),
                                    ("device-emulation", ["--set", "probes.Rec.period=1"] + emulated, 0)):
            for n in os.listdir(mnt):
                subprocess.run(["rm", "-rf", os.path.join(mnt, n)])
            if filler:
                with open(os.path.join(mnt, "filler"), "wb") as f:
                    f.write(b"\0" * filler)
            p = make(steps=3000, every=40, size=32, n=16, nf=16, images=9)
            out = os.path.join(mnt, "out")
            r = subprocess.run([laminar, "run", p, "-q", "-o", out, *sets], capture_output=True, text=True, timeout=300)
            assert r.returncode == 2, (label, r.returncode, r.stderr)
            assert "no space left on device" in r.stderr and out in r.stderr, (label, r.stderr)
            for bad in ("Segmentation", "HDF5-DIAG", "terminate"):
                assert bad not in r.stderr, (label, r.stderr)
            with h5py.File(os.path.join(out, "laminar.h5")) as f:
                steps = f["probes/Energy/step"][()]
                assert len(steps) > 0 and list(steps) == list(range(len(steps))), (label, steps[:5], r.stderr)
                for k in ("probes/Energy/energy", "probes/Stats/mean"):
                    if k in f:
                        assert len(f[k]) == len(steps), (label, k, len(f[k]), len(steps))
            for t in ("Energy", "Stats"):
                text = open(os.path.join(out, t + ".csv")).read()
                assert text.endswith("\n"), (label, t, text[-80:])
                widths = {line.count(",") for line in text.splitlines()}
                assert len(widths) == 1, (label, t, widths)
            assert not os.path.exists(os.path.join(out, ".laminar-reserve")), label
            ck = os.path.join(out, "checkpoints")
            tmps = [n for n in (os.listdir(ck) if os.path.isdir(ck) else []) if n.endswith(".tmp")]
            assert not tmps, (label, tmps)
            results.append(f"{label}: exit 2, {len(steps)} readable rows ({r.stderr.strip().splitlines()[-1][:90]})")
        print("disk full:", "; ".join(results))
    finally:
        subprocess.run(["umount", "-l", mnt])

elif case == "mpi":
    p = make(steps=200, every=30)
    pre = [mpirun, "--oversubscribe", "-np", "2"]
    ref, _ = reference(p, prefix=pre)
    out = os.path.join(tmp, "cut")
    run(p, "-o", out, "--steps", "70", prefix=pre)
    run(p, "-o", out, "--resume", prefix=pre)
    n = same_output(ref, out)
    # SIGTERM under mpirun: every rank stops at the same step and one checkpoint is written.
    out2 = os.path.join(tmp, "term")
    proc = subprocess.Popen(pre + [laminar, "run", p, "-q", "-o", out2, "--steps", "100000"], stderr=subprocess.PIPE,
                            text=True)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert "interrupted by SIGTERM" in err, (proc.returncode, err)
    print(f"np 2: restart bit-identical ({n} datasets); SIGTERM: {err.strip().splitlines()[-1][:100]}")
else:
    sys.exit("unknown case " + case)
shutil.rmtree(tmp, ignore_errors=True)
