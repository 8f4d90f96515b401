"""Checkpoints: written at the cadence and at the end, only the newest `keep` kept, no temporary
files left, and their contents equal the run's state (final weights) so they can seed a new run."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

laminar = sys.argv[1]
tmp = tempfile.mkdtemp()
rng = np.random.default_rng(3)
with h5py.File(os.path.join(tmp, "x.h5"), "w") as f:
    f["images"] = rng.standard_normal((6, 12, 12, 1)).astype(np.float32)
params = os.path.join(tmp, "p.yaml")
with open(params, "w") as f:
    f.write(f"""
simulation: {{steps: 250, display_period: 50, batch_size: 2, output: {tmp}/run,
             checkpoint_every: 100, checkpoint_keep: 2}}
layers:
  Input: {{type: ImageInput, path: {tmp}/x.h5}}
  E: {{type: Error}}
  V1: {{type: LCA, nx: 6, ny: 6, nf: 4, tau: 50, lambda: 0.1}}
connections:
  I: {{type: Identity, pre: Input, post: E}}
  D: {{type: Convolution, pre: V1, post: E, channel: inhibitory, patch_size: 4, learning_rate: 0.05, momentum: 0.5}}
  T: {{type: Transpose, original: D, pre: E, post: V1}}
""")
subprocess.run([laminar, "run", params, "-q"], check=True)
ck = os.path.join(tmp, "run", "checkpoints")
names = sorted(os.listdir(ck))
assert names == ["step-000000200.h5", "step-000000250.h5"], names  # 100 removed (keep 2); the end is saved
with h5py.File(os.path.join(ck, names[-1])) as c, h5py.File(os.path.join(tmp, "run", "laminar.h5")) as out:
    assert c.attrs["step"] == 250 and c.attrs["format_version"] == 3
    np.testing.assert_array_equal(c["connections/D/weights"][:], out["connections/D/final_weights"][:])
    assert c["connections/D/velocity"].shape == (4, 4, 4, 1)
    assert c["layers/V1/membrane"].shape == (2, 6, 6, 4)
    # activity = soft threshold of the membrane (lambda 0.1)
    u = c["layers/V1/membrane"][:]
    np.testing.assert_allclose(c["layers/V1/activity"][:], np.sign(u) * np.maximum(np.abs(u) - 0.1, 0), atol=1e-6)
    # presentation 250 // 50 = 5 (steps 200..249 show presentation 4): items (4*2 + b) % 6
    np.testing.assert_array_equal(c["layers/Input/items"][:], [(4 * 2 + b) % 6 for b in range(2)])
print("checkpoint test passed")
