"""python.reconstruct: laminar.analysis.reconstruct against Laminar itself. A Convolution from an
ImageInput holding random sparse codes (HDF5, 2 x 16 x 20 x 3) into an Error layer, 12 x 12 kernels
from a file; the Error layer's inhibitory channel (Phi a, recorded by an ActivityRecorder) must equal
reconstruct(codes, kernels) with each kernel scaled to L2 norm 1 (Laminar renormalises kernels to
`strength`, also file-loaded ones) to float32 rounding, and differ when shifted by one pixel.
Usage: reconstruct_test.py LAMINAR_EXECUTABLE"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from laminar import analysis as an, images  # noqa: E402


def main(exe):
    rng = np.random.default_rng(11)
    k, h, w, p = 3, 16, 20, 12
    codes = (rng.normal(size=(2, h, w, k)) * (rng.random((2, h, w, k)) < 0.2)).astype(np.float32)
    d = rng.normal(size=(k, p, p, 1)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        images.write_hdf5("codes.h5", codes)
        with h5py.File("w.h5", "w") as f:
            f["weights"] = d
        params = {"simulation": {"steps": 1, "display_period": 1, "batch_size": 2, "dt": 1, "seed": 1, "output": "out"},
                  "layers": {"Code": {"type": "ImageInput", "path": "codes.h5"},
                             "Residual": {"type": "Error", "nx": w, "ny": h, "nf": 1}},
                  "connections": {"Dictionary": {"type": "Convolution", "pre": "Code", "post": "Residual",
                                                 "channel": "inhibitory", "patch_size": p, "init": "file",
                                                 "init_file": "w.h5"}},
                  "probes": {"Rec": {"type": "ActivityRecorder", "layer": "Residual", "buffer": "inhibitory",
                                     "period": 1}}}
        with open("p.yaml", "w") as f:
            yaml.safe_dump(params, f)
        r = subprocess.run([exe, "run", "p.yaml"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"laminar failed ({r.returncode}):\n{r.stderr}")
        with h5py.File("out/laminar.h5", "r") as f:
            rec = f["probes/Rec/data"][()][0, :, :, :, 0]
    dn = d / np.sqrt((d.astype(np.float64) ** 2).sum(axis=(1, 2, 3), keepdims=True))
    mine = an.reconstruct(codes, dn)
    err = np.abs(rec - mine).max()
    print(f"max |laminar - reconstruct| = {err:.3g} (values up to {np.abs(mine).max():.3g})")
    assert err < 1e-5 * np.abs(mine).max(), err
    for shift in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        off = np.abs(rec - np.roll(mine, shift, axis=(1, 2))).max()
        assert off > 0.1 * np.abs(mine).max(), (shift, off)
    print("python.reconstruct: OK")


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
