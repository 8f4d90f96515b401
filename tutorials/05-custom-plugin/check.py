#!/usr/bin/python3
"""Check the WinnerTakeAll probes of a run against numpy, from the V1 code recorded beside them.

Usage: check.py OUTPUT_DIR     (the run's output folder, holding laminar.h5 and Winner.csv)

Recomputes, for every sample and batch element, each feature's score (sum or max over positions of
|activity|), the winner (first index of the largest score; -1 when all are 0), its score and its
share of the total, and compares them with probes/Winner and probes/PeakWinner in laminar.h5 and
with Winner.csv. Exits 1 on any difference.
"""
import csv
import os
import sys

import h5py
import numpy as np


def expected(code, how):
    """code: (samples, batch, ny, nx, nf) -> winner, score, share, each (samples, batch)."""
    a = np.abs(code.astype(np.float64))
    scores = a.sum(axis=(2, 3)) if how == "sum" else a.max(axis=(2, 3))  # (samples, batch, nf)
    best = scores.max(axis=-1)
    winner = np.where(best > 0, scores.argmax(axis=-1), -1)
    total = scores.sum(axis=-1)
    share = np.divide(best, total, out=np.zeros_like(best), where=total > 0)
    return winner, best, share


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "output"
    failures = []
    with h5py.File(os.path.join(out, "laminar.h5"), "r") as f:
        code = f["probes/V1Code/data"][()]
        code_steps = f["probes/V1Code/step"][()]
        for probe, how in (("Winner", "sum"), ("PeakWinner", "max")):
            g = f["probes/" + probe]
            if not np.array_equal(g["step"][()], code_steps):
                failures.append(f"{probe}: steps {g['step'][()]} differ from V1Code's {code_steps}")
                continue
            w, s, sh = expected(code, how)
            got_w, got_s, got_sh = g["winner"][()], g["score"][()], g["share"][()]
            # The winner must be exact unless two scores tie within float rounding.
            if not np.array_equal(got_w, w):
                failures.append(f"{probe}.winner: {got_w.tolist()} != numpy {w.tolist()}")
            for name, got, ref in (("score", got_s, s), ("share", got_sh, sh)):
                err = np.max(np.abs(got - ref) / np.maximum(1e-12, np.abs(ref))) if ref.size else 0.0
                if err > 1e-5:
                    failures.append(f"{probe}.{name}: relative error {err:.3g}")
            print(f"{probe} ({how}): winners {got_w.astype(int).tolist()}, mean share {got_sh.mean():.3f}")
        nonzero = int((f["probes/Winner/winner"][()] >= 0).sum())
    if nonzero == 0:
        failures.append("every sample has an all-zero V1 code: the check would prove nothing")
    with open(os.path.join(out, "Winner.csv")) as fh:
        rows = list(csv.DictReader(fh))
    w, s, _ = expected(code, "sum")
    csv_w = np.array([int(float(r["winner"])) for r in rows]).reshape(w.shape)
    if not np.array_equal(csv_w, w):
        failures.append(f"Winner.csv winners {csv_w.tolist()} != numpy {w.tolist()}")
    for msg in failures:
        print("FAIL:", msg)
    print("OK: WinnerTakeAll matches numpy" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
