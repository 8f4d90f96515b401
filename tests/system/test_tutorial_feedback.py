"""Tutorial 02 (tutorials/02-feedback) in its --tiny form, checked independently.

usage: test_tutorial_feedback.py LAMINAR_EXE [--full]

Runs `run.sh --tiny` (or the full tutorial with --full, for the slow test) into a scratch folder and
checks:
  * it exits 0 and writes feedback.png, data.png (PNG files) and results.json;
  * (tiny only) the recorded H1, T1 and P1 codes of the feedback-on runs ("before": printed stream
    absent, i.e. EJT not delivered to P1; "after": a printed digit of each class) equal a numpy
    reference of the whole two-stream network written here from the equations (eq. 5, every error
    computed from the previous step's state, then the LCA layers; when the printed stream is absent
    nothing makes a cycle through EJT, so the schedule computes it after P1 from this step's a_P, as
    `laminar describe --schedule` shows), with the dictionaries the
    tutorial saved; and the feedback-off H1 codes equal a plain LCA of the handwritten digit, to 1e-4;
  * the distances, predictions and shifts in results.json equal those recomputed here from the codes;
  * the direction of the effect: with feedback (strength 1) every held-out digit's H1 code is moved
    toward the centre of the class shown in print, by a mean of more than 0.05 of the centres'
    distance (measured: about 0.11), and by more than when the print shows the class H1 already gave
    it (the control) by 0.05; with strength 0 the H1 code does not move at all (|shift| < 1e-6).
Skipped (exit 77) when scikit-learn is not installed.
"""
import json
import math
import os
import sys

import h5py
import numpy as np

import systest as st

ROOT = os.path.normpath(os.path.join(st.HERE, "..", ".."))
TUT = os.path.join(ROOT, "tutorials", "02-feedback")
MIN_SHIFT = 0.05  # the stated margin, in units of the distance between the two H1 class centres


def soft(u, lam):
    return np.sign(u) * np.maximum(np.abs(u) - lam, 0.0)


def reference(x, y, W, steps, tau, lam, strength, printed_present):
    """The tutorial's network on a batch, 1x1 layers as matrices. x, y: [B, 64] handwritten and printed
    inputs; W: the four dictionaries. Returns the final activities of H1, T1 and P1."""
    DH = W["PhiH"].reshape(W["PhiH"].shape[0], -1).T.astype(np.float64)    # [64, 32]
    DT = W["PhiT"].reshape(W["PhiT"].shape[0], -1).T.astype(np.float64)    # [64, 16]
    DJH = W["PhiJH"].reshape(W["PhiJH"].shape[0], -1).T.astype(np.float64)  # [32, 8]
    DJT = W["PhiJT"].reshape(W["PhiJT"].shape[0], -1).T.astype(np.float64)  # [16, 8]
    B = x.shape[0]
    uH, uT, uP = np.zeros((B, DH.shape[1])), np.zeros((B, DT.shape[1])), np.zeros((B, DJH.shape[1]))
    aH, aT, aP = soft(uH, lam), soft(uT, lam), soft(uP, lam)
    d = math.exp(-1.0 / tau)
    for _ in range(steps):
        eH = x - aH @ DH.T              # e_H = x - Phi_H a_H
        eT = y - aT @ DT.T
        eJH = uH - aP @ DJH.T           # e_JH = u_H - Phi_JH a_P (previous step's state)
        eJT = uT - aP @ DJT.T
        dH = eH @ DH - strength * eJH   # eq. 5
        dP = eJH @ DJH + (eJT @ DJT if printed_present else 0.0)
        uH = d * uH + (1 - d) * (dH + aH)
        uP = d * uP + (1 - d) * (dP + aP)
        aH, aP = soft(uH, lam), soft(uP, lam)
        if not printed_present:  # EJT no longer feeds P1, so the schedule computes it after P1: this step's a_P
            eJT = uT - aP @ DJT.T
        dT = eT @ DT - strength * eJT
        uT = d * uT + (1 - d) * (dT + aT)
        aT = soft(uT, lam)
    return dict(H1=aH, T1=aT, P1=aP)


def images(path):
    with h5py.File(path, "r") as f:
        return np.asarray(f["images"], dtype=np.float64).reshape(f["images"].shape[0], -1)


def code(run, probe):
    d = run.recorder(probe)[1][-1]
    return d.reshape(d.shape[0], -1).astype(np.float64)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    full = "--full" in argv[2:]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("skipped: scikit-learn (python3-sklearn) not installed")
        return st.SKIP
    chk = st.Checker()
    with st.workdir() as tmp:
        out = os.path.join(tmp, "tutorial")
        proc = st.run_tutorial(TUT, argv[1], out, full)
        if not chk.true("run.sh exits 0", proc.returncode == 0, proc.stderr[-2000:]):
            return chk.exit()
        for png in ("feedback.png", "data.png"):
            p = os.path.join(out, png)
            chk.true(f"{png} written", os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n")
        res = json.load(open(os.path.join(out, "results.json")))
        chk.true("summary printed", "Example: test digit" in proc.stdout and "shift mean" in proc.stdout)
        A, B = res["settings"]["classes"]
        data = os.path.join(out, "data")
        with h5py.File(os.path.join(data, "train_hand.h5"), "r") as f:
            y_train = np.asarray(f["labels"])
        with h5py.File(os.path.join(data, "test_hand.h5"), "r") as f:
            y_test = np.asarray(f["labels"])
        T = res["settings"]["eval_steps"]

        if not full:  # the network's inference against the numpy reference
            with h5py.File(os.path.join(out, "dictionaries.h5"), "r") as f:
                W = {k: np.asarray(f[k]) for k in f.keys()}
            xh = images(os.path.join(data, "test_hand.h5"))
            pr = {c: images(os.path.join(data, f"print_{c}.h5")) for c in (A, B)}
            cases = [("fb1-before", pr[A], 1.0, False), (f"fb1-print{A}", pr[A], 1.0, True),
                     (f"fb1-print{B}", pr[B], 1.0, True), ("fb0-before", pr[A], 0.0, False)]
            for tag, y, s, present in cases:
                want = reference(xh, y, W, T, tau=10.0, lam=0.02, strength=s, printed_present=present)
                run = st.Run(os.path.join(out, tag))
                layers = ("H1", "T1", "P1") if s > 0 else ("H1",)  # without feedback only H1 is a plain LCA
                for layer in layers:
                    chk.close(f"{tag}: {layer} codes vs numpy reference", code(run, f"{layer}Code"), want[layer],
                              rtol=1e-4)

        # results.json against the recorded codes
        shifts = {}
        for s in ("1", "0"):
            ctr_codes = code(st.Run(os.path.join(out, f"fb{s}-centres")), "H1Code")
            ctr = {c: ctr_codes[y_train == c].mean(axis=0) for c in (A, B)}
            before = code(st.Run(os.path.join(out, f"fb{s}-before")), "H1Code")
            after = {c: code(st.Run(os.path.join(out, f"fb{s}-print{c}")), "H1Code") for c in (A, B)}
            dA = np.linalg.norm(before - ctr[A], axis=1)
            dB = np.linalg.norm(before - ctr[B], axis=1)
            pred = np.where(dA < dB, A, B)
            sh, same = [], []
            for i, p in enumerate(pred):
                o = B if p == A else A
                ax = ctr[o] - ctr[p]
                sh.append(np.dot(after[o][i] - before[i], ax) / np.dot(ax, ax))
                same.append(np.dot(after[p][i] - before[i], ax) / np.dot(ax, ax))
            sh, same = np.array(sh), np.array(same)
            shifts[s] = (sh, same, before, after, pred)
            L = res["feedback"][f"{s}.0"]["H1"]
            chk.close(f"feedback {s}: H1 distances before in results.json", np.array([L["d_before"][str(A)],
                      L["d_before"][str(B)]]), np.array([dA, dB]), rtol=1e-6)
            chk.true(f"feedback {s}: H1 predictions before in results.json", L["pred_before"] == pred.tolist())
            chk.close(f"feedback {s}: H1 shifts in results.json", L["shift"], sh, rtol=1e-6, atol=1e-9)
            chk.true(f"feedback {s}: test accuracy before in results.json",
                     abs(L["test_accuracy_before"] - float(np.mean(pred == y_test))) < 1e-12)

        # the direction of the effect
        sh1, same1, _, _, _ = shifts["1"]
        chk.true(f"feedback 1: mean H1 shift toward the printed class > {MIN_SHIFT}", sh1.mean() > MIN_SHIFT,
                 f"{sh1.mean():+.4f}")
        chk.true("feedback 1: every held-out digit's H1 code moves toward the printed class", bool(np.all(sh1 > 0)),
                 f"min {sh1.min():+.4f}")
        chk.true(f"feedback 1: shift (other class in print) - shift (same class) > {MIN_SHIFT}",
                 sh1.mean() - same1.mean() > MIN_SHIFT, f"{sh1.mean():+.4f} vs {same1.mean():+.4f}")
        sh0, same0, before0, after0, _ = shifts["0"]
        chk.true("feedback 0: H1 shift ~0 for every digit", bool(np.max(np.abs(sh0)) < 1e-6),
                 f"max |shift| {np.max(np.abs(sh0)):.2e}")
        for c in (A, B):
            chk.close(f"feedback 0: H1 codes with a printed {c} equal those without print", after0[c], before0,
                      rtol=0, atol=1e-7)
    return chk.exit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
