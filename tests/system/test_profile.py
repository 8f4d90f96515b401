"""laminar run --profile: a row per schedule item with its calls and time, the same numbers in
laminar.h5's profile/ group, and a run whose results are bit-identical to one without profiling.

usage: test_profile.py LAMINAR
"""
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np

laminar = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="laminar-profile-")
STEPS = 120
rng = np.random.default_rng(1)
with h5py.File(os.path.join(tmp, "x.h5"), "w") as f:
    f["images"] = rng.standard_normal((6, 12, 12, 1)).astype(np.float32)
with open(os.path.join(tmp, "p.yaml"), "w") as f:
    f.write(f"""
simulation: {{steps: {STEPS}, display_period: 20, batch_size: 2, seed: 3, checkpoint_every: 60}}
layers:
  Input: {{type: ImageInput, path: {tmp}/x.h5, normalize: standardize}}
  E: {{type: Error}}
  V1: {{type: LCA, nx: 6, ny: 6, nf: 4, tau: 20, lambda: 0.1, reset_on: Input}}
connections:
  I: {{type: Identity, pre: Input, post: E}}
  D: {{type: Convolution, pre: V1, post: E, channel: inhibitory, patch_size: 4, learning_rate: 0.05}}
  T: {{type: Transpose, original: D, pre: E, post: V1}}
probes:
  Energy: {{type: Energy}}
  Rec: {{type: ActivityRecorder, layer: V1, period: 20}}
""")


def run(out, *extra):
    r = subprocess.run([laminar, "run", os.path.join(tmp, "p.yaml"), "-q", "-o", os.path.join(tmp, out), *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return r


plain = run("plain")
assert "profile" not in plain.stdout, plain.stdout
r = run("profiled", "--profile")
text = r.stdout
head = re.search(r"profile: ([0-9.]+) s in (\d+) steps", text)
assert head and int(head.group(2)) == STEPS, text
loop = float(head.group(1))
rows = {}
for line in text.splitlines():
    m = re.match(r"\s+(.+?)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%$", line)
    if m:
        rows[m.group(1)] = (int(m.group(2)), float(m.group(3)), float(m.group(5)))
# One row per delivery and layer update, each run once per step; learning once per step (it fires at
# display-period ends, the call is timed every step); probes, the NaN check, checkpoints, flushes.
for want in ("deliver I (Identity Input -> E)", "deliver D (Convolution V1 -> E)", "deliver T (Transpose E -> V1)",
             "update V1 (LCA)", "update E (Error)", "update Input (ImageInput)", "learn D"):
    assert want in rows and rows[want][0] == STEPS, (want, rows.get(want), text)
assert rows["checkpoints"][0] == 2, rows["checkpoints"]  # at steps 60 and 120
assert "probe Energy (Energy)" in rows and "NaN check" in rows, text
items = sum(v[1] for k, v in rows.items() if not k.startswith("of the deliveries"))
assert abs(items - loop) <= 0.01 * loop + 0.002, (items, loop)  # the items plus "other" make up the loop
shares = sum(v[2] for k, v in rows.items() if not k.startswith("of the deliveries"))
assert 99.0 <= shares <= 101.0, shares
with h5py.File(os.path.join(tmp, "profiled", "laminar.h5")) as f:
    names = f["profile"].attrs["items"]
    names = (names.decode() if isinstance(names, bytes) else names).split("\n")
    secs, calls = f["profile/seconds"][()], f["profile/calls"][()]
    assert len(names) == len(secs) == len(calls), (len(names), len(secs))
    for n, s, c in zip(names, secs, calls):
        if c > 0:
            assert n in rows and rows[n][0] == c and abs(rows[n][1] - s) < 1e-3, (n, s, c, rows.get(n))
    assert [d.label for d in f["profile/seconds"].dims] == ["item"]
# Profiling changes no result.
with h5py.File(os.path.join(tmp, "plain", "laminar.h5")) as a, h5py.File(os.path.join(tmp, "profiled", "laminar.h5")) as b:
    for k in ("probes/Energy/energy", "probes/Rec/data", "connections/D/final_weights"):
        assert np.array_equal(a[k][()], b[k][()]), k
    assert "profile" not in a
print(f"profile: {len(rows)} rows, loop {loop:.3f} s, items + other = {items:.3f} s, shares {shares:.1f}%; "
      "results bit-identical to the run without --profile")
