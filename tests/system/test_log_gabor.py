"""init: log_gabor against an independent numpy evaluation of eq. 3 of Ladret, Casanova & Perrinet, "Kernel
Heterogeneity Improves Sparseness of Natural Images Representations" (2023).

usage: test_log_gabor.py LAMINAR_EXE

One laminar run, three networks (ImageInput -> Error <- Convolution/Transpose -> LCA), each with WeightRecorders:
  het:    log_gabor_preset heterogeneous on 12x12 patches, 144 features (12 orientations x 6 B_theta x 2 phases);
  custom: 3 orientations (a count), bandwidths [10, 25], phase odd, f0 0.3, sigma_f 0.2, 6x8 kernels (patch_size_y
          6, patch_size 8) on an RGB input (nf = 3: every slice the same kernel, jointly normalised), strength 2;
  plastic: orientations [45, 100], B_theta 20, both phases, learning on: the grid is written with the final weights.
Checks: the recorded weights (fixed dictionaries) equal numpy.fft.ifft2 of G (1 + sign(cos(theta - theta0)))
exp(i phi), fftshift-ed, mean removed, unit norm (times strength), to 1e-5 max abs; the per-kernel attributes
theta0_deg, b_theta_deg, phase_deg (kernel index (i_theta * n_B + i_B) * n_phase + i_phase) on the recorders of
the Convolution and of its Transpose and on the final weights, through h5py and laminar.Run.kernel_attributes.
"""
import os
import sys

import h5py
import numpy as np

import systest as st


def log_gabor_numpy(ny, nx, theta0_deg, b_theta_deg, phase_deg, f0=0.4, sigma_f=0.4):
    """Eq. 3 as written: G(f, theta) = exp(-log(f/f0)^2 / (2 log(1 + sigma_f/f0)^2)) exp(cos(2 (theta - theta0))
    / (4 sigma_theta^2)), sigma_theta = B_theta / sqrt(2 ln 2), on numpy's DFT grid with y pointing up."""
    fy, fx = np.meshgrid(np.fft.fftfreq(ny), np.fft.fftfreq(nx), indexing="ij")
    f = np.sqrt(fx ** 2 + fy ** 2)
    theta = np.arctan2(-fy, fx)
    t0 = np.radians(theta0_deg)
    sigma_theta = np.radians(b_theta_deg) / np.sqrt(2 * np.log(2))
    radial = np.zeros_like(f)
    nz = f > 0
    radial[nz] = np.exp(-0.5 * np.log(f[nz] / f0) ** 2 / np.log(1 + sigma_f / f0) ** 2)
    G = radial * np.exp(np.cos(2 * (theta - t0)) / (4 * sigma_theta ** 2))
    c = np.cos(theta - t0)
    half = 1 + np.where(np.abs(c) < 1e-9, 0.0, np.sign(c))  # sign(0) = 0 where exactly perpendicular
    k = np.fft.fftshift(np.real(np.fft.ifft2(G * half * np.exp(1j * np.radians(phase_deg)))))
    return k


def dictionary_numpy(grid, ny, nx, nf, strength=1.0, **kw):
    out = []
    for t0, b, ph in grid:
        k = np.repeat(log_gabor_numpy(ny, nx, t0, b, ph, **kw)[:, :, None], nf, axis=2)
        k = k - k.mean()
        out.append(strength * k / np.linalg.norm(k))
    return np.stack(out)


def grid_of(thetas, bandwidths, phases):
    return [(t, b, p) for t in thetas for b in bandwidths for p in phases]


def add_net(params, tmp, rng, tag, ny, nx, nf, patch_y, patch_x, nk, conv_extra, lr=0.0):
    L, C, P = params["layers"], params["connections"], params["probes"]
    data = os.path.join(tmp, f"images_{tag}.h5")
    with h5py.File(data, "w") as f:
        f["images"] = st.random_images(rng, 4, ny * patch_y, nx * patch_x, nf)
    L[f"Input_{tag}"] = {"type": "ImageInput", "path": data, "format": "hdf5", "dataset": "images"}
    L[f"Error_{tag}"] = {"type": "Error"}
    L[f"V1_{tag}"] = {"type": "LCA", "nx": nx, "ny": ny, "nf": nk, "tau": 10, "lambda": 0.1}
    C[f"InputToError_{tag}"] = {"type": "Identity", "pre": f"Input_{tag}", "post": f"Error_{tag}"}
    conv = {"type": "Convolution", "pre": f"V1_{tag}", "post": f"Error_{tag}", "channel": "inhibitory",
            "patch_size": patch_x, "init": "log_gabor", "learning_rate": lr}
    if patch_y != patch_x:
        conv["patch_size_y"] = patch_y
    conv.update(conv_extra)
    C[f"D_{tag}"] = conv
    C[f"DT_{tag}"] = {"type": "Transpose", "original": f"D_{tag}", "pre": f"Error_{tag}", "post": f"V1_{tag}"}
    P[f"W_{tag}"] = {"type": "WeightRecorder", "connection": f"D_{tag}", "period": 2}
    P[f"WT_{tag}"] = {"type": "WeightRecorder", "connection": f"DT_{tag}", "period": 2}


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    chk = st.Checker()
    rng = np.random.default_rng(3)
    het_grid = grid_of(np.arange(12) * 15.0, np.linspace(3, 30, 6), [0.0, 90.0])
    custom_grid = grid_of([0.0, 60.0, 120.0], [10.0, 25.0], [90.0])
    plastic_grid = grid_of([45.0, 100.0], [20.0], [0.0, 90.0])
    with st.workdir() as tmp:
        out = os.path.join(tmp, "out-log-gabor")
        params = st.params_skeleton(4, 1, 2, out)
        add_net(params, tmp, rng, "het", 1, 2, 1, 12, 12, 144, {"log_gabor_preset": "heterogeneous"})
        add_net(params, tmp, rng, "custom", 2, 2, 3, 6, 8, 6,
                {"log_gabor_orientations": 3, "log_gabor_bandwidths": [10, 25], "log_gabor_phase": "odd",
                 "log_gabor_f0": 0.3, "log_gabor_sigma_f": 0.2, "strength": 2.0})
        add_net(params, tmp, rng, "plastic", 1, 1, 1, 6, 6, 4,
                {"log_gabor_orientations": [45, 100], "log_gabor_bandwidths": 20}, lr=0.01)
        run, _ = st.run_laminar(exe, params, tmp, "log-gabor")

        want = {"het": dictionary_numpy(het_grid, 12, 12, 1),
                "custom": dictionary_numpy(custom_grid, 6, 8, 3, strength=2.0, f0=0.3, sigma_f=0.2),
                "plastic": dictionary_numpy(plastic_grid, 6, 6, 1)}
        grids = {"het": het_grid, "custom": custom_grid, "plastic": plastic_grid}
        for tag in ("het", "custom"):
            got = run.weights(f"W_{tag}", sample=0)
            chk.close(f"{tag}: recorded weights vs numpy eq. 3", got, want[tag], rtol=0, atol=1e-5)
            chk.true(f"{tag}: the Transpose's recorder holds the same weights",
                     np.array_equal(run.weights(f"WT_{tag}", sample=0), got))
        # The plastic dictionary starts as the log-Gabor one and learns (the recorder samples after learning).
        moved = float(np.abs(run.weights("W_plastic", sample=0) - want["plastic"]).max())
        chk.true("plastic: learning moved the weights away from the log-Gabor start", 1e-6 < moved < 0.5,
                 f"max |change| {moved:.3g}")

        for tag, grid in grids.items():
            g = np.array(grid, dtype=np.float64)
            expect = {"theta0_deg": g[:, 0], "b_theta_deg": g[:, 1], "phase_deg": g[:, 2]}
            sources = [f"W_{tag}", f"WT_{tag}", f"D_{tag}"]  # D_<tag>: via its recorder, or its final weights
            for name in sources:
                attrs = run.kernel_attributes(name)
                ok = set(attrs) == set(expect) and all(
                    attrs[k].dtype == np.float64 and attrs[k].shape == (len(grid),) and
                    np.allclose(attrs[k], expect[k], rtol=0, atol=1e-12) for k in expect)
                chk.true(f"{tag}: kernel_attributes({name!r}) is the (theta0, B_theta, phase) grid", ok,
                         "" if ok else str({k: v[:6] for k, v in attrs.items()}))
            chk.true(f"{tag}: the arrays are not among the probe's text attributes",
                     not set(expect) & set(run.probe(f"W_{tag}").attrs))
        with h5py.File(run.file, "r") as f:
            fw = f["connections/D_plastic/final_weights"]
            chk.true("plastic: final_weights carries the grid",
                     _text(fw.attrs.get("kernel_attributes")) == "theta0_deg,b_theta_deg,phase_deg" and
                     np.allclose(fw.attrs["theta0_deg"], [45, 45, 100, 100]) and
                     np.allclose(fw.attrs["phase_deg"], [0, 90, 0, 90]))
            chk.true("het: no final weights (not plastic)", "connections/D_het" not in f)

        # Restart: the plastic network alone, checkpointed at step 4, resumed to 8, equals an uninterrupted run
        # (init only at the start; the learned weights and momentum come from the checkpoint).
        params = st.params_skeleton(8, 1, 2, os.path.join(tmp, "out-whole"))
        params["simulation"]["checkpoint_every"] = 4
        add_net(params, tmp, np.random.default_rng(5), "plastic", 1, 1, 1, 6, 6, 4,
                {"log_gabor_orientations": [45, 100], "log_gabor_bandwidths": 20, "momentum": 0.5}, lr=0.01)
        whole, _ = st.run_laminar(exe, params, tmp, "restart")
        cut = os.path.join(tmp, "out-cut")
        st.run_laminar(exe, params, tmp, "restart", extra=("-o", cut, "--steps", "4"))
        resumed, _ = st.run_laminar(exe, params, tmp, "restart", extra=("-o", cut, "--resume"))
        a, b = whole.weights("W_plastic", sample=-1), resumed.weights("W_plastic", sample=-1)
        chk.true("restart: resumed weights bit-identical to an uninterrupted run",
                 a.shape == b.shape and np.array_equal(a, b) and len(resumed.probe("W_plastic").step) == 4,
                 f"max |diff| {float(np.abs(a - b).max()) if a.shape == b.shape else 'shape'}")
        chk.true("restart: the resumed output still carries the grid",
                 np.array_equal(resumed.kernel_attributes("W_plastic")["theta0_deg"], [45, 45, 100, 100]))
    return chk.exit()


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
