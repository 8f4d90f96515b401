"""The AdaptiveTimestep probe: its controller and the LCA dynamics against numpy, fewer steps, off = unchanged.

usage: test_adaptive_timestep.py LAMINAR_EXE CASE
CASE:
  reference   one run, two canonical networks with an AdaptiveTimestep probe each (batch 3, two display
              periods): stride 2 with the exponential integrator, stride 1 with forward Euler whose
              dt_b = s_b dt exceeds tau (clamped to tau). Checks:
                * the recorded timescale and cap of every step and batch element equal the numpy controller
                  (laminar.reference.AdaptiveTimescale, from the equations) run on the recorded energies
                  (1e-12 relative: both compute in double from the same energies);
                * every step from laminar's recorded state: e(n) = x - Phi a(n-1), and u(n) = the numpy
                  integrator's step from u(n-1) with dt_b = s_b(n) dt (1e-5);
                * the whole recorded trajectory (membranes, activities, errors, energies) equals the numpy LCA
                  network integrated with those timescales (1e-3: near the edge of stability, where the
                  controller takes the timestep, float32 and float64 rounding grow apart step by step);
                * the timescale adapted: it grew beyond 4, differs between batch elements, restarts at
                  base_min at every display period, and (Euler) went past tau/dt.
  off         without the probe the run is what it was: a probe that holds every timescale at 1 (base_min =
              base_max = 1, growth_factor = 0) runs the per-element path with every factor equal to the
              constant-dt one, and every recorded dataset is bit-identical to the run without the probe.
  fewer       benchmarks/time_to_energy.py, the probe's default settings, one 400-step display period: on the
              Fashion-MNIST example (when the dataset is installed; batch 4, learning off) the energy reaches the
              energy of 400 fixed steps (and stays there) in at most a third of the fixed run's steps and ends no
              higher; on the shrunk paper network (params/paper/deep-sparse-coding-small.yaml at the paper's
              tau 100, generated faces, batch 2; the timestep driven by the first level's energy) in at most
              half, ending at the same energy (the fixed run rises to it while its membranes charge).
"""
import os
import sys

import numpy as np

import systest as st
from laminar import reference as ref

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DISPLAY, PERIODS, BATCH = 40, 2, 3
STEPS = DISPLAY * PERIODS


def adaptive_net(rng, tmp, params):
    nets = {
        "exp": st.Subnet(tag="exp", images=st.random_images(rng, 7, 16, 16, 1), weights=st.random_weights(rng, 8, 6, 1),
                         lca=ref.LCAParams(nx=8, ny=8, nf=8, tau=20.0, lam=0.3, threshold="soft", reset_on_input=True),
                         dictionary=ref.DictionaryParams(patch=6)),
        "euler": st.Subnet(tag="euler", images=st.random_images(rng, 7, 12, 12, 1),
                           weights=st.random_weights(rng, 3, 5, 1),
                           lca=ref.LCAParams(nx=12, ny=12, nf=3, tau=6.0, lam=0.2, threshold="soft_nonneg",
                                             integrator="euler", reset_on_input=True),
                           dictionary=ref.DictionaryParams(patch=5)),
    }
    settings = {"exp": dict(base_min=1.0, base_max=2.0, tau_factor=0.3, growth_factor=0.1),
                "euler": dict(base_min=0.5, base_max=1.0, tau_factor=1.0, growth_factor=1.0)}
    for tag, s in nets.items():
        s.write(tmp, params)
        params["probes"][s.n("Timestep")] = {"type": "AdaptiveTimestep", "energy": s.n("Energy"),
                                             "layers": [s.n("V1")], **settings[tag]}
    return nets, settings


def one_step(chk, run, s, timescale, tag):
    """Every step from laminar's own recorded state: e(n) = x - Phi a(n-1) and u(n) = the integrator's step
    from u(n-1) with drive Phi^T e(n) + a(n-1) and dt_b = timescale[n, b] dt (numpy, float64), 1e-5."""
    net = s.reference(BATCH, DISPLAY)
    u, a, e = (run.recorder(s.n(p))[1].astype(np.float64) for p in ("Membrane", "Activity", "Residual"))
    got_u, want_u, got_e, want_e = [], [], [], []
    for n in range(1, STEPS):
        if n % DISPLAY == 0:
            continue  # a new input: u(n-1) was replaced by u_init before the step
        x, _ = net.present(n // DISPLAY)
        want_e.append(x - ref.phi(net.W, a[n - 1], net.fine_shape, net.stride))
        got_e.append(e[n])
        drive = ref.phi_t(net.W, e[n], net.coarse_shape, net.stride) + a[n - 1]
        want_u.append(net.integrate(u[n - 1], drive, timescale[n]))
        got_u.append(u[n])
    chk.close(f"[{tag}] each step's error e(n) = x - Phi a(n-1)", np.array(got_e), np.array(want_e), rtol=1e-5)
    chk.close(f"[{tag}] each step's membrane with dt_b = timescale[n, b] dt", np.array(got_u), np.array(want_u),
              rtol=1e-5)


def case_reference(exe, chk):
    rng = np.random.default_rng(5)
    with st.workdir() as tmp:
        params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-adaptive")
        nets, settings = adaptive_net(rng, tmp, params)
        run, secs = st.run_laminar(exe, params, tmp, "adaptive")
        print(f"laminar run took {secs:.2f} s")
        for tag, s in nets.items():
            p = run.probe(s.n("Timestep"))
            t = {"step": p.step, "timescale": p["timescale"], "timescale_max": p["timescale_max"]}
            chk.true(f"[{tag}] timescale recorded every step", np.array_equal(t["step"], np.arange(STEPS)))
            energy = run.energy_arrays(s.n("Energy"))["energy"]
            want_s, want_cap = ref.AdaptiveTimescale(BATCH, **settings[tag]).sequence(energy, DISPLAY)
            chk.close(f"[{tag}] timescale = numpy controller on the recorded energies", t["timescale"], want_s,
                      rtol=1e-12, elementwise=True)
            chk.close(f"[{tag}] timescale_max = numpy controller's cap", t["timescale_max"], want_cap, rtol=1e-12,
                      elementwise=True)
            one_step(chk, run, s, t["timescale"], tag)
            # The whole trajectory: the controller drives dt_b to the edge of stability (there the energy
            # rises and it backs off), where the float32 rounding of laminar and the float64 of numpy grow
            # step by step; hence 1e-3 of each array's scale here and the exact one-step check above.
            traj = s.reference(BATCH, DISPLAY).run(STEPS, timescale=t["timescale"])
            st.compare_recorded(chk, run, s, traj, rtol=1e-3)
            ts = t["timescale"]
            base = settings[tag]["base_min"]
            chk.true(f"[{tag}] every display period starts at base_min",
                     np.all(ts[::DISPLAY] == base) and np.all(ts[1::DISPLAY] == base))
            chk.true(f"[{tag}] the timescale grew", ts.max() > 4 * base, f"max {ts.max():.3g}")
            chk.true(f"[{tag}] batch elements adapt separately", not np.all(ts == ts[:, :1]))
            if tag == "euler":
                chk.true("[euler] dt_b went past tau (clamped to a rate of 1)", ts.max() * 1.0 > s.lca.tau,
                         f"max dt_b {ts.max():.3g}, tau {s.lca.tau}")
            drops = [(n, b) for n in range(2, STEPS) for b in range(BATCH)
                     if n % DISPLAY > 1 and ts[n, b] == base and ts[n - 1, b] > base]
            print(f"[{tag}] timescale: max {ts.max():.3g}, mean {ts.mean():.3g}; drops back to base_min after an "
                  f"energy rise: {len(drops)}")


def case_off(exe, chk):
    rng = np.random.default_rng(6)
    with st.workdir() as tmp:
        outs = {}
        for variant in ("absent", "held"):
            params = st.params_skeleton(STEPS, BATCH, DISPLAY, f"{tmp}/out-{variant}")
            s = st.Subnet(tag="n", images=st.random_images(rng if variant == "absent" else np.random.default_rng(6),
                                                           7, 16, 16, 1),
                          weights=st.random_weights(np.random.default_rng(1), 8, 6, 1),
                          lca=ref.LCAParams(nx=8, ny=8, nf=8, tau=20.0, lam=0.3, threshold="soft",
                                            reset_on_input=True),
                          dictionary=ref.DictionaryParams(patch=6, learning_rate=0.05, momentum=0.5))
            s.write(tmp, params)
            if variant == "held":
                params["probes"]["Timestep"] = {"type": "AdaptiveTimestep", "energy": s.n("Energy"), "base_min": 1,
                                                "base_max": 1, "growth_factor": 0, "tau_factor": 1e30}
            outs[variant] = st.run_laminar(exe, params, tmp, variant)[0]
        import h5py

        def datasets(run):
            out = {}
            with h5py.File(run.file) as f:
                f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
            return out
        a, b = datasets(outs["absent"]), datasets(outs["held"])
        held = b.pop("probes/Timestep/timescale"), b.pop("probes/Timestep/timescale_max")
        b.pop("probes/Timestep/step")
        chk.true("the held probe kept every timescale at 1", np.all(held[0] == 1.0) and np.all(held[1] == 1.0))
        chk.true("same datasets", sorted(a) == sorted(b), f"{len(a)} datasets")
        differ = [k for k in a if k in b and not np.array_equal(a[k], b[k])]
        chk.true("every dataset bit-identical (membranes, activities, errors, energies, weights)", not differ,
                 ", ".join(differ))


def make_faces(folder, count, size):
    from PIL import Image
    rng = np.random.default_rng(2)
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    names = ["Halle Berry", "Ada Lovelace", "Alan Turing", "Grace Hopper"]
    with open(os.path.join(folder, "names.csv"), "w") as f:
        f.write("file,label,has_text\n")
        for i in range(count):
            img = np.stack([np.exp(-((yy - rng.random()) ** 2 + (xx - rng.random()) ** 2) * 8) for _ in range(3)], -1)
            Image.fromarray((255 * img).astype(np.uint8)).save(os.path.join(folder, f"face{i}.png"))
            f.write(f"face{i}.png,{names[i % len(names)]},1\n")


def case_fewer(exe, chk):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from time_to_energy import time_to_energy
    with st.workdir() as tmp:
        faces = os.path.join(tmp, "faces")
        make_faces(faces, 8, 16)
        # The shrunk paper network at the paper's dt/tau (tau 100), the timestep driven by the first level's
        # energy (the total energy of this hierarchy rises while its membranes charge, so the total would
        # hold the timestep at base_min); the target is the total energy of 400 fixed steps.
        runs = [("shrunk paper network", os.path.join(ROOT, "params", "paper", "deep-sparse-coding-small.yaml"),
                 [f"layers.Image.path={faces}", f"layers.Image.labels={faces}/names.csv",
                  "simulation.display_period=400", "simulation.batch_size=2"] +
                 [f"layers.{l}.tau=100" for l in ("V1", "V2", "V3", "T1", "T2", "P1")],
                 ["E_V1", "V1", "E_T1", "T1"], 2)]
        mnist = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
        if os.path.exists(mnist):
            runs.append(("Fashion-MNIST example", os.path.join(ROOT, "params", "examples", "lca-fashion-mnist.yaml"),
                         ["simulation.display_period=400", "simulation.batch_size=4",
                          "connections.Dictionary.learning_rate=0"], None, 3))
        else:
            print(f"(Fashion-MNIST not installed at {mnist}: only the shrunk paper network)")
        for name, path, sets, layers, factor in runs:
            r = time_to_energy(exe, path, sets, steps=400, threads=1, workdir=os.path.join(tmp, name.split()[0]),
                               controller_layers=layers)
            f, a = r["fixed"], r["adaptive"]
            print(f"{name}: steps to the energy of 400 fixed steps: fixed {f['steps']}, adaptive {a['steps']} "
                  f"(per element {a['steps_per_element']}); energy at the end {f['final_energy']:.6g} fixed, "
                  f"{a['final_energy']:.6g} adaptive; timescale max {a['timescale_max']:.3g}")
            chk.true(f"{name}: the adaptive run reaches the target and stays", a["steps"] is not None)
            chk.true(f"{name}: in at most 1/{factor} of the fixed steps",
                     a["steps"] is not None and a["steps"] <= f["steps"] / factor, f"{a['steps']} vs {f['steps']}")
            chk.true(f"{name}: and ends where the fixed run ends or below",
                     a["final_energy"] <= f["final_energy"] * (1 + 1e-6) if layers is None else
                     abs(a["final_energy"] - f["final_energy"]) <= 1e-3 * f["final_energy"],
                     f"{a['final_energy']:.7g} vs {f['final_energy']:.7g}")


def main(argv):
    if len(argv) != 3 or argv[2] not in ("reference", "off", "fewer"):
        print(__doc__)
        return 2
    chk = st.Checker()
    {"reference": case_reference, "off": case_off, "fewer": case_fewer}[argv[2]](argv[1], chk)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
