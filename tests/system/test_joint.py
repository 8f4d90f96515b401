"""Linked multimodal joint LCA layer with per-batch-element masking, against independent references.

usage: test_joint.py LAMINAR_EXE

One laminar run holding three networks:
  single:    the canonical one-modality network on stream A (Input -> Error <- Phi/Phi^T -> V1), learning;
  allmasked: a joint layer P1 with stream A (same data, same weights) and stream B whose labels CSV
             marks every item absent (present_column), its Error masked (mask: Input_B), both learning
             (B with normalize: l2, so renormalisation drift would show);
  aniso:     a joint layer over streams of 8x8 and 4x16 (strides 4x4 and 2x8, kernels 6x6 and 4x8);
  mixed:     a joint layer with stream A2 (absent_if_blank: two of five images are all zero) and stream
             B2 (present_column: 1,0,1,1,0), both masked, batch 3 over 5 items (the mask pattern
             differs per batch element and per presentation), momentum on A2, reset_on, plus an
             ImageWriter on B2's Error inhibitory channel (the reconstruction Phi_B a: what the joint
             code generates for B where B is absent).
Checks:
  allmasked vs single: P1 membrane/activity, Error_A and the A dictionary bit-identical to the
  single-modality network's (max |diff| printed; must be 0); the B dictionary bit-identical at every
  step (WeightRecorder every step) and in final_weights; its first sample = numpy normalize_l2(init).
  single vs laminar.reference (numpy), 1e-5.
  mixed vs laminar.joint_reference (numpy): P1 membrane/activity and both errors every step, energies,
  weight histories and final weights (1e-5); masked elements' errors exactly 0; the ImageWriter's
  HDF5 data = the reference reconstruction, and every PNG = the minmax rule applied to it (+-1 level),
  written only for the elements where B is absent (only_absent).
"""
import glob
import os
import sys

import h5py
import numpy as np

import systest as st
from laminar import joint_reference as jref
from laminar import reference as ref

STEPS, DISPLAY, BATCH = 120, 20, 3


def write_h5(path, images):
    with h5py.File(path, "w") as f:
        f["images"] = np.asarray(images, np.float32)


def write_csv(path, present):
    with open(path, "w") as f:
        f.write("file,label,has_b\n")
        for i, p in enumerate(present):
            f.write(f"{i},item{i},{int(p)}\n")


def joint(params, tmp, tag, streams, lca, reset=False, record=True):
    """Add a joint network: streams = list of (name, images, weights, DictionaryParams, input extras, masked)."""
    L, C, P = params["layers"], params["connections"], params["probes"]
    p1 = f"P1_{tag}"
    L[p1] = {"type": "LCA", "nx": lca.nx, "ny": lca.ny, "nf": lca.nf, "tau": lca.tau, "lambda": lca.lam,
             "threshold": lca.threshold}
    for name, images, weights, d, extra, masked in streams:
        inp, err = f"Input_{name}", f"Error_{name}"
        write_h5(f"{tmp}/{name}.h5", images)
        with h5py.File(f"{tmp}/w_{name}.h5", "w") as f:
            f["weights"] = weights.astype(np.float32)
        L[inp] = {"type": "ImageInput", "path": f"{tmp}/{name}.h5", "format": "hdf5", **extra}
        L[err] = {"type": "Error", **({"mask": inp} if masked else {})}
        C[f"{inp}To{err}"] = {"type": "Identity", "pre": inp, "post": err}
        C[f"Phi_{name}"] = {"type": "Convolution", "pre": p1, "post": err, "channel": "inhibitory",
                            "patch_size": int(weights.shape[2]), "init": "file", "init_file": f"{tmp}/w_{name}.h5",
                            "normalize": d.normalize, "learning_rate": d.learning_rate, "momentum": d.momentum}
        if weights.shape[1] != weights.shape[2]:
            C[f"Phi_{name}"]["patch_size_y"] = int(weights.shape[1])
        C[f"PhiT_{name}"] = {"type": "Transpose", "original": f"Phi_{name}", "pre": err, "post": p1}
        P[f"W_{name}"] = {"type": "WeightRecorder", "connection": f"Phi_{name}", "period": 1, "png": False}
        if record:
            P[f"Rec_{err}"] = {"type": "ActivityRecorder", "layer": err, "period": 1}
    if reset:
        L[p1]["reset_on"] = f"Input_{streams[0][0]}"
    if record:
        P[f"Mem_{p1}"] = {"type": "ActivityRecorder", "layer": p1, "buffer": "membrane", "period": 1}
        P[f"Act_{p1}"] = {"type": "ActivityRecorder", "layer": p1, "period": 1}
    P[f"Energy_{tag}"] = {"type": "Energy", "layers": [f"Error_{s[0]}" for s in streams] + [p1]}


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    rng = np.random.default_rng(7)
    chk = st.Checker()
    lca = ref.LCAParams(nx=4, ny=4, nf=6, tau=10.0, lam=0.15, threshold="soft")
    with st.workdir() as tmp:
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-joint")
        # ---- single and allmasked: the same stream A
        imgs_a = st.random_images(rng, 5, 8, 8, 1)
        w_a = st.random_weights(rng, 6, 4, 1, unit=False)
        dict_a = ref.DictionaryParams(patch=4, learning_rate=0.1, normalize="l2")
        single = st.Subnet(tag="single", images=imgs_a, weights=w_a, lca=lca, dictionary=dict_a,
                           record_period=1, weight_period=1)
        single.write(tmp, params)
        imgs_b = st.random_images(rng, 5, 8, 8, 2)
        w_b = (2.5 * st.random_weights(rng, 6, 4, 2)).astype(np.float32)  # not unit norm: normalised at start
        dict_b = ref.DictionaryParams(patch=4, learning_rate=0.1, normalize="l2")
        write_csv(f"{tmp}/allabsent.csv", [0] * 5)
        joint(params, tmp, "allmasked", [
            ("A", imgs_a, w_a, dict_a, {}, True),
            ("B", imgs_b, w_b, dict_b, {"labels": f"{tmp}/allabsent.csv", "present_column": "has_b"}, True)], lca)
        # ---- mixed
        imgs_a2 = st.random_images(rng, 5, 8, 8, 1)
        imgs_a2[[1, 3]] = 0.0  # blank: absent
        w_a2 = st.random_weights(rng, 6, 4, 1)
        dict_a2 = ref.DictionaryParams(patch=4, learning_rate=0.1, momentum=0.5, normalize="l2")
        imgs_b2 = st.random_images(rng, 5, 8, 8, 2)
        w_b2 = st.random_weights(rng, 6, 4, 2)
        dict_b2 = ref.DictionaryParams(patch=4, learning_rate=0.05, normalize="l2")
        present_b2 = np.array([1, 0, 1, 1, 0])
        write_csv(f"{tmp}/mixed.csv", present_b2)
        lca_m = dataclasses_replace(lca, reset_on_input=True)
        joint(params, tmp, "mixed", [
            ("A2", imgs_a2, w_a2, dict_a2, {"absent_if_blank": True}, True),
            ("B2", imgs_b2, w_b2, dict_b2, {"labels": f"{tmp}/mixed.csv", "present_column": "has_b"}, True)],
            lca_m, reset=True)
        params["probes"]["GenB2"] = {"type": "ImageWriter", "layer": "Error_B2", "buffer": "inhibitory",
                                     "feature": 1, "only_absent": "Input_B2"}
        # the same reconstruction recorded every step by an ActivityRecorder on the channel
        params["probes"]["ReconB2"] = {"type": "ActivityRecorder", "layer": "Error_B2", "buffer": "inhibitory",
                                       "period": 1}
        # ---- aniso: a joint layer over an 8x8 image (strides 4, 4) and a 4x16 "text" (strides 2 (y), 8 (x)),
        # non-square kernels (4 x 8), as the paper's P1 over a 64x64 and a 128x16 stream
        lca_x = ref.LCAParams(nx=2, ny=2, nf=5, tau=10.0, lam=0.1, threshold="soft")
        imgs_v = st.random_images(rng, 5, 8, 8, 1)
        imgs_t = st.random_images(rng, 5, 4, 16, 1)
        rng_w = rng.standard_normal((5, 4, 8, 1))
        w_t = (rng_w / np.sqrt((rng_w ** 2).sum(axis=(1, 2, 3), keepdims=True))).astype(np.float32)
        w_v = st.random_weights(rng, 5, 6, 1)
        dict_x = ref.DictionaryParams(patch=0, learning_rate=0.05, normalize="l2")
        present_t = np.array([1, 1, 0, 1, 0])
        write_csv(f"{tmp}/aniso.csv", present_t)
        joint(params, tmp, "aniso", [
            ("V", imgs_v, w_v, dict_x, {}, False),
            ("T", imgs_t, w_t, dict_x, {"labels": f"{tmp}/aniso.csv", "present_column": "has_b"}, True)], lca_x)
        run, secs = st.run_laminar(exe, params, tmp, "joint")
        print(f"laminar run took {secs:.2f} s")

        # ---- single vs numpy reference
        traj = single.reference(BATCH, DISPLAY).run(STEPS)
        st.compare_recorded(chk, run, single, traj)
        _, ws = run.weight_history(single.n("Weights"))
        chk.close("single weights vs reference", ws, traj.weights, rtol=1e-5)

        # ---- allmasked vs single: bit-identical
        for probe_j, probe_s in (("Mem_P1_allmasked", single.n("Membrane")), ("Act_P1_allmasked", single.n("Activity")),
                                 ("Rec_Error_A", single.n("Residual"))):
            d = maxdiff(run.recorder(probe_j)[1], run.recorder(probe_s)[1])
            chk.true(f"allmasked {probe_j} == single {probe_s} bit for bit", d == 0.0, f"max |diff| {d:.3g}")
        _, wa = run.weight_history("W_A")
        d = maxdiff(wa, ws)
        chk.true("allmasked A dictionary == single dictionary bit for bit (every step)", d == 0.0, f"max |diff| {d:.3g}")
        chk.true("A dictionary did learn", maxdiff(wa[-1], wa[0]) > 0.01, f"change {maxdiff(wa[-1], wa[0]):.3g}")
        rb = run.recorder("Rec_Error_B")[1]
        chk.true("masked Error_B is exactly 0 everywhere", not np.any(rb), f"max |e| {np.max(np.abs(rb)):.3g}")
        steps_b, wb = run.weight_history("W_B")
        chk.true("W_B sampled every step", np.array_equal(steps_b, np.arange(STEPS)))
        d = maxdiff(wb, np.broadcast_to(wb[0], wb.shape))
        chk.true("masked B dictionary unchanged bit for bit over all 6 learning events", d == 0.0, f"max |diff| {d:.3g}")
        d = maxdiff(run.final_weights("Phi_B"), wb[0])
        chk.true("masked B final_weights == initial bit for bit", d == 0.0, f"max |diff| {d:.3g}")
        chk.close("B initial weights = numpy normalize_l2(init file)", wb[0], ref.normalize_l2(w_b.astype(np.float64)),
                  rtol=1e-6)
        en = run.energy_arrays("Energy_allmasked")
        chk.true("masked Error_B energy term is 0", not np.any(en["Error_B"]))

        # ---- mixed vs numpy joint reference
        net = jref.JointNetwork([
            jref.Stream(imgs_a2, w_a2, dict_a2, absent_if_blank=True),
            jref.Stream(imgs_b2, w_b2, dict_b2, present=present_b2)], lca_m, BATCH, DISPLAY)
        out = net.run(STEPS)
        pres = np.array(out["present"][1])
        chk.true("mixed: B's mask differs across batch elements and presentations",
                 pres.any() and not pres.all() and len({tuple(r) for r in pres}) > 1,
                 f"patterns {sorted({tuple(int(v) for v in r) for r in pres})}")
        pres_a = np.array(out["present"][0])
        chk.true("mixed: A2 has blank (absent) elements", pres_a.any() and not pres_a.all())
        chk.close("mixed P1 membrane", run.recorder("Mem_P1_mixed")[1], out["membrane"])
        chk.close("mixed P1 activity", run.recorder("Act_P1_mixed")[1], out["activity"])
        for m, name in enumerate(("A2", "B2")):
            got = run.recorder(f"Rec_Error_{name}")[1]
            chk.close(f"mixed Error_{name}", got, out["error"][m])
            absent = ~np.array(out["present"][m])
            chk.true(f"mixed Error_{name} exactly 0 where absent ({int(absent.sum())} element-steps)",
                     not np.any(got[absent]))
            _, w = run.weight_history(f"W_{name}")
            chk.close(f"mixed Phi_{name} history", w, out["weights"][m])
            chk.close(f"mixed Phi_{name} final", run.final_weights(f"Phi_{name}"), out["weights"][m][-1])
        en = run.energy_arrays("Energy_mixed")
        for col, want in (("Error_A2", out["error_energy"][0]), ("Error_B2", out["error_energy"][1]),
                          ("P1_mixed", out["sparsity_energy"])):
            chk.close(f"mixed energy {col}", en[col], want, rtol=1e-5, atol=1e-7 * float(np.max(want)),
                      elementwise=True)
        # ---- anisotropic strides and kernels vs numpy
        net = jref.JointNetwork([jref.Stream(imgs_v, w_v, dict_x, masked=False),
                                 jref.Stream(imgs_t, w_t, dict_x, present=present_t)], lca_x, BATCH, DISPLAY)
        outx = net.run(STEPS)
        chk.true("aniso: strides (4, 4) and (2, 8)", net.stride == [(4, 4), (2, 8)], str(net.stride))
        chk.close("aniso P1 membrane", run.recorder("Mem_P1_aniso")[1], outx["membrane"])
        chk.true("aniso P1 code is not all zero", np.abs(outx["activity"]).max() > 0.05)
        for m, name in enumerate(("V", "T")):
            chk.close(f"aniso Error_{name}", run.recorder(f"Rec_Error_{name}")[1], outx["error"][m])
            chk.close(f"aniso Phi_{name} final", run.final_weights(f"Phi_{name}"), outx["weights"][m][-1])
        # ---- ImageWriter: generated B (reconstruction where B is absent)
        gsteps, gdata = run.recorder("GenB2")
        chk.true("ImageWriter steps = end of each display period",
                 np.array_equal(gsteps, np.arange(DISPLAY - 1, STEPS, DISPLAY)))
        recon = np.array(out["recon"][1])
        chk.close("ImageWriter data = reference reconstruction Phi_B a", gdata, recon[gsteps])
        rsteps, rdata = run.recorder("ReconB2")
        chk.true("ActivityRecorder buffer: inhibitory samples every step", np.array_equal(rsteps, np.arange(STEPS)))
        chk.close("ActivityRecorder buffer: inhibitory = reference reconstruction Phi_B a", rdata, recon)
        from PIL import Image
        pngs = sorted(glob.glob(f"{tmp}/out-joint/GenB2/*.png"))
        want_files = [f"step{s:08d}-b{b:03d}.png" for s in gsteps for b in range(BATCH) if not pres[s, b]]
        chk.true("PNGs written exactly for the absent elements", [os.path.basename(p) for p in pngs] == want_files,
                 f"{len(pngs)} files")
        worst = 0
        for s in gsteps:
            for b in range(BATCH):
                if pres[s, b]:
                    continue
                v = recon[s, b, :, :, 1]
                rng_v = v.max() - v.min()
                want = np.round(255 * (v - v.min()) / rng_v) if rng_v > 0 else np.zeros_like(v)  # constant: 0
                got = np.asarray(Image.open(f"{tmp}/out-joint/GenB2/step{s:08d}-b{b:03d}.png"), np.float64)
                worst = max(worst, float(np.max(np.abs(got - want))))
        chk.true("PNG = minmax(reconstruction) within 1 grey level", worst <= 1.0, f"max level diff {worst:.0f}")
    return chk.exit()


def dataclasses_replace(obj, **kw):
    import dataclasses
    return dataclasses.replace(obj, **kw)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
