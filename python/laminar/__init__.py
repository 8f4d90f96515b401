"""Laminar analysis tools: read a run's HDF5 output, plot it, and a numpy reference of the LCA network.

    from laminar import Run
    run = Run("output/lca-fashion-mnist")      # the output folder or its laminar.h5
    run.energy()["energy"]                     # [samples, batch]
    run.final_weights("Dictionary")            # [kernels, patch, patch, features]

`laminar.reference` is a plain numpy LCA network written from the equations (used by the tests);
`laminar.analysis` analyses codes of paired (multimodal) inputs: activity-triggered averages, class
means, single-cell information and cell types, multimodal units, best single unit, separability,
cross-modal transfer; `python -m laminar.plot OUTPUT_DIR` draws energy.png and the dictionaries.
"""
from .run import Run, Probe

__all__ = ["Run", "Probe"]
