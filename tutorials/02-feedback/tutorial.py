#!/usr/bin/python3
"""Tutorial 02: top-down feedback changes a lower layer's representation (seed paper, figure 3).

A two-stream sparse-coding network (multimodal.yaml): handwritten digits (scikit-learn's 8x8
digits) -> H1, printed digits (rendered with the Liberation fonts) -> T1, and a joint layer P1
that reconstructs both streams' membrane potentials, with top-down Feedback (eq. 5) from P1's
two error layers into H1 and T1.

  1. make_data.py: training pairs (handwritten, printed) of the same class, two confusable classes
     (default 3 and 8), held-out handwritten test digits and printed digits of each class
  2. train the network on the pairs (all four dictionaries learn; feedback on)
  3. with the learned, fixed dictionaries, for feedback strength 1 and 0:
       centres:  the training handwritten digits alone (printed stream absent: its joint
                 error EJT is not delivered to P1): H1 and P1 codes ->
                 class centres (the mean code of each class)
       before:   each handwritten test digit alone (printed stream absent)
       after:    each handwritten test digit with a printed digit of class C, for each class C
  4. every test digit is classified by the nearest class centre in H1's feature space (its
     activity a_H1) from "before"; the test digit nearest the class boundary is the example; the
     printed stream then shows the OTHER class than the one predicted, and we measure how far
     H1's own code moves toward that class: the distances to both centres before and after, and
     the shift of the code along the line between the centres, as a fraction of the centres'
     distance (0: no move, 1: a whole centre-to-centre distance)
  5. figures (feedback.png, data.png), results.json, codes.npz, and a summary printed

usage: tutorial.py [--output DIR] [--laminar EXE] [--tiny] [--classes A B] [--epochs N] [--set KEY=VALUE]...
  --tiny: a seconds-long version (fewer digits and epochs) for the test suite.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

from laminar.run import run_laminar  # noqa: E402

PARAMS = os.path.join(HERE, "multimodal.yaml")
FEEDBACK = ("EJHToH1", "EJTToT1")
DICTIONARIES = ("PhiH", "PhiT", "PhiJH", "PhiJT")
STRENGTHS = (1.0, 0.0)


def settings(tiny):
    if tiny:
        return dict(train_per_class=30, test_per_class=20, epochs=100, train_period=100, eval_steps=200)
    return dict(train_per_class=50, test_per_class=0, epochs=300, train_period=100, eval_steps=400)


EXTRA_SETS = []  # --set overrides given to tutorial.py, applied to every run


def laminar(exe, out, sets, log):
    return run_laminar(exe, PARAMS, out, EXTRA_SETS + list(sets), log, overwrite=True)


def codes(run, probe):
    """The settled code of every batch element at the end of the (single) presentation: [batch, nf]."""
    _, d = run.recorder(probe)
    return d[-1].reshape(d.shape[1], -1).astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default=os.path.join(HERE, "output"))
    ap.add_argument("--laminar", default=os.environ.get("LAMINAR", os.path.join(ROOT, "build", "laminar")))
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--classes", type=int, nargs=2, default=[3, 8])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a params override for every laminar run (e.g. layers.P1.nf=16)")
    ap.add_argument("--epochs", type=int, help="training epochs (default 300, tiny 100)")
    a = ap.parse_args()
    EXTRA_SETS.extend(a.set)
    out = os.path.abspath(a.output)
    exe = os.path.abspath(a.laminar)
    if not os.path.exists(exe):
        sys.exit(f"{exe}: laminar not found; build it (cmake --build build) or pass --laminar")
    os.makedirs(out, exist_ok=True)
    cfg = settings(a.tiny)
    cfg["classes"] = list(a.classes)
    cfg["sets"] = list(a.set)
    if a.epochs:
        cfg["epochs"] = a.epochs
    log = print
    t_start = time.time()
    A, B = a.classes

    # 1. data
    data = os.path.join(out, "data")
    subprocess.run([sys.executable, os.path.join(HERE, "make_data.py"), data, "--classes", str(A), str(B),
                    "--train-per-class", str(cfg["train_per_class"]), "--test-per-class",
                    str(cfg["test_per_class"])], check=True)
    with h5py.File(os.path.join(data, "train_hand.h5"), "r") as f:
        y_train = np.asarray(f["labels"])
    with h5py.File(os.path.join(data, "test_hand.h5"), "r") as f:
        y_test = np.asarray(f["labels"])
    n_train, n_test = len(y_train), len(y_test)

    # 2. training on the pairs, feedback on, all dictionaries learning
    dp = cfg["train_period"]
    steps = cfg["epochs"] * dp  # one presentation of all pairs (a batch of n_train) per epoch
    log(f"training: {cfg['epochs']} epochs of {n_train} pairs ({steps} steps)")
    run = laminar(exe, os.path.join(out, "train"), [
        f"layers.HandInput.path={data}/train_hand.h5", f"layers.PrintInput.path={data}/train_print.h5",
        f"simulation.steps={steps}", f"simulation.display_period={dp}", f"simulation.batch_size={n_train}",
        f"probes.Energy.period={dp}"], log)
    wfile = os.path.join(out, "dictionaries.h5")
    with h5py.File(wfile, "w") as f:
        for conn in DICTIONARIES:
            f[conn] = run.final_weights(conn)
    e = run.energy_arrays()
    train_energy = {k: [float(e[k][0].mean()), float(e[k][-1].mean())] for k in e if k != "step"}
    log("  energy terms at the end of the first / last epoch: " +
        ", ".join(f"{k} {v[0]:.3f} / {v[1]:.3f}" for k, v in train_energy.items()))

    # 3. inference with fixed dictionaries
    T = cfg["eval_steps"]

    def infer(tag, hand, printed, batch, strength):
        """printed None: the printed stream is absent: its joint error EJT does not reach P1."""
        sets = ["connections.EJTToP1.channel=none"] if printed is None else []
        printed = printed or "print_%d.h5" % A  # not read by anything that reaches H1
        sets += [f"layers.HandInput.path={data}/{hand}", f"layers.PrintInput.path={data}/{printed}",
                f"simulation.steps={T}", f"simulation.display_period={T}", f"simulation.batch_size={batch}",
                f"probes.Energy.period={T}"]
        sets += [f"connections.{c}.strength={strength}" for c in FEEDBACK]
        for conn in DICTIONARIES:
            sets += [f"connections.{conn}.learning_rate=0", f"connections.{conn}.init=file",
                     f"connections.{conn}.init_file={wfile}", f"connections.{conn}.init_dataset={conn}",
                     f"connections.{conn}.normalize=none"]
        r = laminar(exe, os.path.join(out, tag), sets, log)
        return dict(H1=codes(r, "H1Code"), P1=codes(r, "P1Code"), T1=codes(r, "T1Code"))

    res = {}
    for s in STRENGTHS:
        fb = f"fb{int(s)}"
        log(f"inference, feedback strength {s:g}")
        r = dict(centres_run=infer(f"{fb}-centres", "train_hand.h5", None, n_train, s),
                 before=infer(f"{fb}-before", "test_hand.h5", None, n_test, s))
        for c in (A, B):
            r[f"after{c}"] = infer(f"{fb}-print{c}", "test_hand.h5", f"print_{c}.h5", n_test, s)
        res[s] = r

    # 4. nearest-centre classification and the shift toward the printed class
    results = dict(settings=cfg, n_train=n_train, n_test=n_test, train_energy=train_energy, feedback={})
    arrays = dict(y_train=y_train, y_test=y_test)
    for s, r in res.items():
        fb = f"fb{int(s)}"
        out_s = {}
        for layer in ("H1", "P1"):
            train_codes = r["centres_run"][layer]
            ctr = {c: train_codes[y_train == c].mean(axis=0) for c in (A, B)}
            dist = lambda X, c: np.linalg.norm(X - ctr[c][None, :], axis=1)  # noqa: E731
            train_pred = np.where(dist(train_codes, A) < dist(train_codes, B), A, B)
            before = r["before"][layer]
            dA, dB = dist(before, A), dist(before, B)
            pred = np.where(dA < dB, A, B)
            other = np.where(pred == A, B, A)  # the printed stream shows the class the digit was NOT given
            after = np.stack([r[f"after{o}"][layer][i] for i, o in enumerate(other)])
            # control: the printed stream shows the class H1 already gave it (same axis: expect <= 0)
            same = np.stack([r[f"after{p}"][layer][i] for i, p in enumerate(pred)])
            shift_same = np.array([np.dot(same[i] - before[i], ctr[o] - ctr[p]) / np.sum((ctr[o] - ctr[p]) ** 2)
                                   for i, (p, o) in enumerate(zip(pred, other))])
            aA, aB = dist(after, A), dist(after, B)
            pred_after = np.where(aA < aB, A, B)
            # shift: the code's displacement projected on the line from the predicted class's centre to the
            # other one, in units of the centres' distance (0: not moved; 1: moved by a whole centre distance)
            shift = np.array([np.dot(after[i] - before[i], ctr[o] - ctr[p]) / np.sum((ctr[o] - ctr[p]) ** 2)
                              for i, (p, o) in enumerate(zip(pred, other))])
            out_s[layer] = dict(centre_distance=float(np.linalg.norm(ctr[A] - ctr[B])),
                                train_accuracy=float(np.mean(train_pred == y_train)),
                                test_accuracy_before=float(np.mean(pred == y_test)),
                                d_before={str(A): dA.tolist(), str(B): dB.tolist()},
                                d_after={str(A): aA.tolist(), str(B): aB.tolist()},
                                pred_before=pred.tolist(), pred_after=pred_after.tolist(), shift=shift.tolist(),
                                shift_mean=float(shift.mean()), shift_median=float(np.median(shift)),
                                shift_min=float(shift.min()), shift_max=float(shift.max()),
                                flipped=float(np.mean(pred_after != pred)),
                                shift_same_mean=float(shift_same.mean()),
                                move_norm=float(np.mean(np.linalg.norm(after - before, axis=1))))
            arrays.update({f"{fb}_{layer}_train": train_codes, f"{fb}_{layer}_before": before,
                           f"{fb}_{layer}_after": after, f"{fb}_{layer}_centre{A}": ctr[A],
                           f"{fb}_{layer}_centre{B}": ctr[B]})
        results["feedback"][str(s)] = out_s

    # the example: the test digit nearest the H1 class boundary with feedback on ("before")
    h = results["feedback"]["1.0"]["H1"]
    dA, dB = np.array(h["d_before"][str(A)]), np.array(h["d_before"][str(B)])
    ex = int(np.argmin(np.abs(dA - dB) / (dA + dB)))
    X = dict(index=ex, label=int(y_test[ex]), predicted=int(h["pred_before"][ex]),
             printed=int(B if h["pred_before"][ex] == A else A))
    for s in STRENGTHS:
        for layer in ("H1", "P1"):
            L = results["feedback"][str(s)][layer]
            X[f"fb{int(s)}_{layer}"] = dict(before={c: L["d_before"][c][ex] for c in (str(A), str(B))},
                                            after={c: L["d_after"][c][ex] for c in (str(A), str(B))},
                                            shift=L["shift"][ex], pred_before=L["pred_before"][ex],
                                            pred_after=L["pred_after"][ex])
    results["example"] = X
    # the digits near the boundary: the 10% of test digits with the smallest relative margin
    near = np.argsort(np.abs(dA - dB) / (dA + dB))[:max(1, n_test // 10)]
    results["near_boundary"] = {str(s): dict(
        count=int(len(near)),
        shift_mean=float(np.mean(np.array(results["feedback"][str(s)]["H1"]["shift"])[near])),
        flipped=float(np.mean(np.array(results["feedback"][str(s)]["H1"]["pred_after"])[near] !=
                              np.array(results["feedback"][str(s)]["H1"]["pred_before"])[near])))
        for s in STRENGTHS}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    np.savez(os.path.join(out, "codes.npz"), **arrays)

    # 5. figures
    from plots import plot_results  # noqa: E402

    pngs = plot_results(out, results)

    # 6. summary
    print()
    print(f"Example: test digit {ex} (label {X['label']}), the nearest to the class boundary in H1's feature space "
          f"(feedback on); classified {X['predicted']}; the printed stream then shows a {X['printed']}")
    print("  distances to the class centres (Euclidean, in the layer's activity space):")
    for s in STRENGTHS:
        for layer in ("P1", "H1"):
            E = X[f"fb{int(s)}_{layer}"]
            print(f"  feedback {s:g}, {layer}: before ({A} = {E['before'][str(A)]:.4f}, {B} = {E['before'][str(B)]:.4f}) "
                  f"-> {E['pred_before']}; after ({A} = {E['after'][str(A)]:.4f}, {B} = {E['after'][str(B)]:.4f}) "
                  f"-> {E['pred_after']}; shift toward {X['printed']}: {E['shift']:+.3f}")
    print()
    print(f"All {n_test} held-out handwritten digits (shift: displacement toward the printed class's centre, "
          f"in units of the centres' distance):")
    for s in STRENGTHS:
        for layer in ("P1", "H1"):
            L = results["feedback"][str(s)][layer]
            print(f"  feedback {s:g}, {layer}: accuracy {L['test_accuracy_before']:.3f} (train {L['train_accuracy']:.3f});"
                  f" shift mean {L['shift_mean']:+.3f} (median {L['shift_median']:+.3f}, range {L['shift_min']:+.3f}"
                  f" .. {L['shift_max']:+.3f}); classification flipped for {L['flipped']:.1%};"
                  f" control (print shows the class it was given): shift mean {L['shift_same_mean']:+.3f}")
    for s in STRENGTHS:
        nb = results["near_boundary"][str(s)]
        print(f"  feedback {s:g}, H1, the {nb['count']} digits nearest the boundary: shift mean {nb['shift_mean']:+.3f};"
              f" flipped {nb['flipped']:.1%}")
    print("wrote " + ", ".join(os.path.relpath(p) for p in pngs) + f", {os.path.relpath(os.path.join(out, 'results.json'))}"
          f" ({time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
