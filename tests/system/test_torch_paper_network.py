"""benchmarks/torch_paper_network.py is the same network as Laminar's: both run params/paper/*.yaml and agree.

usage: test_torch_paper_network.py LAMINAR_EXE

Exit 77 (skipped) where torch is not importable. Checks, all with learning off (learning_rate 0) and
one OpenMP / torch thread:

1. Convolution geometry: the torch module's Phi a and Phi^T e against loops written from Laminar's
   definition (stride = ratio of the layer sizes, offset -floor((patch - stride)/2), zero outside the
   layer) for odd/even/non-square patches, strides 1-4 and full-field kernels, each by every method the
   module has (Phi a by conv_transpose2d or conv2d's input gradient, Phi^T e by conv2d; full-field
   kernels by matmul or matrix-vector products): max |diff| <= 1e-5 x the values' scale.
2. The paper network itself (params/paper/deep-sparse-coding.yaml, full size) at batch 2 on generated
   faces, two inputs of 15 steps each (display_period 15, so the LCA layers reset and the inputs change
   once), simulation.dt 10 (dt/tau 0.1) and lambda 0.03 in V3, T2 and P1, so that every layer, P1
   included, becomes active within 15 steps; a withheld name (has_text 0: E_T1 masked) in the first
   input, an all-black face (E_V1 masked) in the second. Laminar writes a checkpoint at steps 15 and 30
   (every layer's activity and membrane, every weight) and its Energy probe every step. The torch
   network loads the weights and the input layers' activity from the checkpoints, runs 15 steps per
   input, and must match:
     - the schedule (`laminar describe --schedule` order, stored in laminar.h5);
     - every layer's activity and every LCA layer's membrane at steps 15 and 30:
       max |diff| <= 1e-4 x the buffer's max |value| (float32 summation order only);
     - the energy of every step and batch element: relative diff <= 1e-5.
3. The scaled-down paper network (params/paper/deep-sparse-coding-small.yaml) with every other setting the
   module supports turned on somewhere: thresholds soft, hard, firm (and soft_nonneg), a_max, init_value,
   a layer's own dt, self_interaction false, the euler integrator, Feedback strength 0.5 and 0 (which
   leaves it out of the schedule and changes the order), Identity, Error, Convolution and Transpose
   scales; 2 x 20 steps, compared the same way, once with the default methods and once with the others.
"""
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import systest as st  # noqa: E402

try:
    import torch
    del torch  # only whether it imports
except Exception as e:  # noqa: BLE001
    print(f"SKIP: torch is not importable ({e})")
    sys.exit(st.SKIP)

sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks"))
import torch_paper_network as tpn  # noqa: E402

PARAMS = os.path.join(HERE, "..", "..", "params", "paper")
NAMES = ["Halle Berry", "George W Bush", "Ada Lovelace", "Grace Hopper"]
HAS_TEXT = [1, 0, 1, 1]
BLANK = 3  # face3.png is all black: the face is absent
RTOL_STATE = 1e-4
RTOL_ENERGY = 1e-5


def make_faces(folder, size, rng):
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    with open(f"{folder}/names.csv", "w") as f:
        f.write("file,label,has_text\n")
        for i, (n, h) in enumerate(zip(NAMES, HAS_TEXT)):
            img = np.stack([np.exp(-((yy - rng.random()) ** 2 + (xx - rng.random()) ** 2) * 8) for _ in range(3)], -1)
            img = (255 * img).astype(np.uint8) if i != BLANK else np.zeros((size, size, 3), np.uint8)
            Image.fromarray(img).save(f"{folder}/face{i}.png")
            f.write(f"face{i}.png,{n},{h}\n")


def naive_conv(fine, coarse, py, px, w, a=None, e=None):
    """Laminar's Convolution from its definition: Phi a (a given) or Phi^T e (e given), NHWC float64."""
    (nfy, nfx, _), (ncy, ncx, _) = fine, coarse
    sy, sx = nfy // ncy, nfx // ncx
    oy, ox = -((py - sy) // 2), -((px - sx) // 2)
    B = (a if a is not None else e).shape[0]
    out = np.zeros((B,) + (fine if a is not None else coarse))
    for cy in range(ncy):
        for cx in range(ncx):
            for i in range(py):
                for j in range(px):
                    y, x = cy * sy + oy + i, cx * sx + ox + j
                    if 0 <= y < nfy and 0 <= x < nfx:
                        if a is not None:
                            out[:, y, x] += a[:, cy, cx].astype(np.float64) @ w[:, i, j, :]
                        else:
                            out[:, cy, cx] += e[:, y, x].astype(np.float64) @ w[:, i, j, :].T
    return out


def check_geometry(chk):
    rng = np.random.default_rng(3)
    cases = [((8, 8, 3), (4, 4, 5), 5, 5), ((6, 7, 2), (6, 7, 3), 3, 4), ((6, 6, 2), (6, 6, 3), 4, 4),
             ((8, 12, 2), (2, 3, 4), 6, 5), ((4, 16, 2), (1, 1, 3), 4, 16), ((8, 8, 2), (4, 2, 3), 3, 7),
             ((9, 9, 1), (3, 3, 2), 4, 4), ((10, 10, 1), (2, 2, 2), 9, 9), ((16, 16, 3), (8, 8, 4), 8, 8)]
    for fine, coarse, py, px in cases:
        p = {"simulation": {}, "layers": {
                "F": {"type": "Error", "ny": fine[0], "nx": fine[1], "nf": fine[2]},
                "C": {"type": "LCA", "ny": coarse[0], "nx": coarse[1], "nf": coarse[2]}},
             "connections": {
                "W": {"type": "Convolution", "pre": "C", "post": "F", "channel": "inhibitory", "patch_size": px,
                      "patch_size_y": py},
                "WT": {"type": "Transpose", "original": "W", "pre": "F", "post": "C"}}}
        net = tpn.build(p, 2)
        c = net.connections["W"]
        w = rng.standard_normal((coarse[2], py, px, fine[2])).astype(np.float32)
        c.set_weights(w)
        a = rng.standard_normal((2,) + coarse).astype(np.float32)
        e = rng.standard_normal((2,) + fine).astype(np.float32)
        what = f"{fine[0]}x{fine[1]}x{fine[2]} <- {coarse[0]}x{coarse[1]}x{coarse[2]}, patch {py}x{px}" + (
            " (full field)" if c.full_field else "")
        want_s = naive_conv(fine, coarse, py, px, w, a=a)
        want_g = naive_conv(fine, coarse, py, px, w, e=e)
        scatter_methods, gather_methods = c.methods()
        for m in scatter_methods:
            c.scatter_method = m
            got = c.scatter(tpn._to_nchw(a)).permute(0, 2, 3, 1).numpy()
            chk.close(f"geometry {what}: Phi a by {m}", got, want_s, rtol=1e-5)
        for m in gather_methods:
            c.gather_method = m
            got = c.gather(tpn._to_nchw(e)).permute(0, 2, 3, 1).numpy()
            chk.close(f"geometry {what}: Phi^T e by {m}", got, want_g, rtol=1e-5)


def laminar_schedule(run_h5):
    import h5py
    with h5py.File(run_h5, "r") as f:
        text = f.attrs["schedule"]
    text = text.decode() if isinstance(text, bytes) else str(text)
    return re.findall(r"^\s+\d+\. (\S+) \(", text, re.M)


def compare_run(chk, tag, params, out, period, presentations, alternative=False, threads=1):
    """Torch network vs the checkpoints Laminar wrote at the end of each input (every period steps).
    alternative: each connection computes Phi a and Phi^T e the other way (matmul instead of matrix-vector
    products, conv2d's input gradient instead of conv_transpose2d) where it has one."""
    import h5py
    tpn.set_threads(threads)
    batch = int(params["simulation"]["batch_size"])
    net = tpn.build(params, batch)
    for c in net.convolutions():
        c.default_methods(batch)
        if alternative:
            sm, gm = c.methods()
            c.scatter_method = next((m for m in sm if m != c.scatter_method), c.scatter_method)
            c.gather_method = next((m for m in gm if m != c.gather_method), c.gather_method)
    print(f"{tag}: Phi a / Phi^T e by " + ", ".join(f"{c.name} {c.scatter_method}/{c.gather_method}"
                                                    for c in net.convolutions()))
    order = [l.name for l in net.schedule]
    chk.true(f"{tag}: same schedule as laminar", order == laminar_schedule(f"{out}/laminar.h5"), " ".join(order))
    with h5py.File(f"{out}/laminar.h5", "r") as f:
        energy = f["probes/Energy/energy"][()]  # (steps, batch)
    worst = {}
    for k in range(presentations):
        ckpt = f"{out}/checkpoints/step-{(k + 1) * period:09d}.h5"
        if k == 0:
            net.load_weights_from_laminar(ckpt)
        with h5py.File(ckpt, "r") as f:
            state = {l: {b: f[f"layers/{l}/{b}"][()] for b in ("activity", "membrane") if f"layers/{l}/{b}" in f}
                     for l in net.layers}
        inputs = {l.name: state[l.name]["activity"] for l in net.inputs}
        net.set_inputs(**inputs)
        got_energy = net.run(period, energies=True)
        chk.close(f"{tag} input {k + 1}: energy of every step and batch element", energy[k * period:(k + 1) * period],
                  got_energy, rtol=RTOL_ENERGY, elementwise=True)
        for name, l in net.layers.items():
            if l.kind in tpn.INPUT_KINDS:
                continue
            for buf in ("activity", "membrane") if l.kind == "LCA" else ("activity",):
                want = state[name][buf]
                got = net.state(name, buf)
                nz = float(np.mean(want != 0))
                # Checker.close(got, want): "laminar" is Laminar's checkpoint, "reference" the torch module
                chk.close(f"{tag} step {(k + 1) * period} {name}.{buf} ({100 * nz:.0f}% nonzero)", want, got,
                          rtol=RTOL_STATE)
                scale = float(np.max(np.abs(got))) or 1.0
                worst[buf] = max(worst.get(buf, 0.0), float(np.max(np.abs(got - want))) / scale)
                if l.kind == "LCA" and buf == "activity":
                    chk.true(f"{tag} step {(k + 1) * period} {name} is active (the comparison means something)",
                             nz > 0, f"{100 * nz:.1f}% nonzero")
    print(f"{tag}: worst max|diff| / max|value|: " + ", ".join(f"{b} {v:.2e}" for b, v in worst.items()))
    return net


def paper_run(exe, tmp, chk):
    rng = np.random.default_rng(11)
    faces = f"{tmp}/faces64"
    make_faces(faces, 64, rng)
    period, presentations = 15, 2
    p = tpn.load_params(os.path.join(PARAMS, "deep-sparse-coding.yaml"))
    p["simulation"].pop("epochs", None)
    p["simulation"].update({"steps": period * presentations, "display_period": period, "batch_size": 2, "dt": 10,
                            "output": f"{tmp}/out-paper", "checkpoint_every": period, "checkpoint_keep": 10,
                            "csv": False})
    p["layers"]["Image"].update({"path": faces, "labels": f"{faces}/names.csv", "shuffle": False})
    for c in p["connections"].values():
        if c["type"] == "Convolution":
            c["learning_rate"] = 0.0
    for name in ("V3", "T2", "P1"):  # so that the top layers become active within 15 steps too
        p["layers"][name]["lambda"] = 0.03
    p["probes"] = {"Energy": {"type": "Energy"}}
    _, secs = st.run_laminar(exe, p, tmp, "paper")
    print(f"laminar: paper network, batch 2, {period * presentations} steps in {secs:.1f} s")
    import h5py
    with h5py.File(f"{tmp}/out-paper/checkpoints/step-{period:09d}.h5", "r") as f:
        items = f["layers/Image/items"][()]
        text_b1 = f["layers/E_T1/activity"][1]
    chk.true("paper: first input shows faces 0 and 1 (no shuffle)", list(items) == [0, 1], str(list(items)))
    chk.true("paper: the withheld name masks E_T1 for batch element 1", not np.any(text_b1))
    net = compare_run(chk, "paper", p, f"{tmp}/out-paper", period, presentations)
    chk.true("paper: the blank face of input 2 is taken as absent", "Image" in net.present
             and list(net.present["Image"].numpy()) == [True, False])


def small_run(exe, tmp, chk):
    rng = np.random.default_rng(12)
    faces = f"{tmp}/faces16"
    make_faces(faces, 16, rng)
    period, presentations = 20, 2
    p = tpn.load_params(os.path.join(PARAMS, "deep-sparse-coding-small.yaml"), [
        f"layers.Image.path={faces}", f"layers.Image.labels={faces}/names.csv", "layers.Image.shuffle=false",
        f"simulation.steps={period * presentations}", f"simulation.display_period={period}",
        f"simulation.output={tmp}/out-small", f"simulation.checkpoint_every={period}",
        "simulation.checkpoint_keep=10", "simulation.csv=false",
        "layers.V1.a_max=0.3", "layers.V1.dt=2",
        "layers.V2.threshold=soft", "layers.V2.init_value=0.15",
        "layers.V3.self_interaction=false", "layers.V3.lambda=0.03",
        "layers.T1.threshold=hard", "layers.T1.lambda=0.05",
        "layers.T2.integrator=euler",
        "layers.P1.threshold=firm", "layers.P1.firm_width=0.2", "layers.P1.lambda=0.05",
        "connections.E_V3ToV2.strength=0.5", "connections.E_PTToT2.strength=0",
        "connections.V1ToE_V2.scale=2", "layers.E_V3.scale=0.5",
        "connections.Phi_V2.scale=1.5", "connections.E_V2ToV2.scale=0.8",
    ])
    for c in p["connections"].values():
        if c["type"] == "Convolution":
            c["learning_rate"] = 0.0
    p["probes"] = {"Energy": {"type": "Energy"}}
    _, secs = st.run_laminar(exe, p, tmp, "small")
    print(f"laminar: small paper network with variants, {period * presentations} steps in {secs:.1f} s")
    compare_run(chk, "small", p, f"{tmp}/out-small", period, presentations)
    compare_run(chk, "small (alternative methods)", p, f"{tmp}/out-small", period, presentations, alternative=True)


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    chk = st.Checker()
    check_geometry(chk)
    with st.workdir() as tmp:
        small_run(exe, tmp, chk)
        paper_run(exe, tmp, chk)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
