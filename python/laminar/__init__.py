"""Laminar analysis tools: read a run's HDF5 output, plot it, and a numpy reference of the LCA network.

    import laminar
    run = laminar.run("params/lca.yaml", output="out/lca", set={"layers.V1.lambda": 0.2})  # or a dict
    run = laminar.Run("output/lca-fashion-mnist")  # a finished run: the output folder or its laminar.h5
    run.energy()                               # pandas DataFrame: step, batch, energy, one column per layer
    run.activity("V1", steps=slice(0, 500))    # recorded samples [samples, batch, ny, nx, nf], read by range
    run.weights("Dictionary")                  # [kernels, patch, patch, features]
    run.to_xarray()                            # everything, with named dimensions
    laminar.check("params/lca.yaml")           # the planned network as a dict; LaminarError on bad params

`laminar.api` runs the executable (`laminar.run`, `laminar.check`; failures raise `LaminarError`);

`laminar.reference` is a plain numpy LCA network written from the equations (used by the tests);
`laminar.analysis` analyses codes of paired (multimodal) inputs: activity-triggered averages, class
means, single-cell information and cell types, multimodal units, best single unit, separability,
cross-modal transfer, and of convolutional codes of images (reconstruction, PSNR, sparseness, pruning,
kernel orientation/bandwidth fits, their density, Mann-Whitney tests); `laminar.images` loads
grayscale natural photographs (Debian-shipped sets or a folder) as central crops and writes them to
HDF5 for ImageInput; `python -m laminar.plot OUTPUT_DIR` draws energy.png and the dictionaries.
"""
from .api import LaminarError, check, find_executable, run
from .run import Probe, Run

__version__ = "0.1.0"  # = LAMINAR_VERSION (CMakeLists.txt project(VERSION)); python.venv_install checks it

__all__ = ["Run", "Probe", "run", "check", "find_executable", "LaminarError", "__version__"]
