"""The package's dependencies (everything else is in pyproject.toml).

numpy, h5py, matplotlib, pandas and PyYAML. Debian 12's python3-h5py registers its distribution as
`h5py._debian_h5py_serial`, so pip, asked for `h5py`, finds no such distribution and, offline, fails
(`pip install --no-build-isolation ./python` in a venv with --system-site-packages). Where an h5py is
importable but no distribution is named `h5py` (the Debian package), the requirement is left out: the
h5py that is there is used. Anywhere else (an isolated build, a plain virtual environment) it is required.
"""
import importlib.metadata
import importlib.util

from setuptools import setup


def dependencies():
    deps = ["numpy", "matplotlib", "pandas", "PyYAML"]
    try:
        importlib.metadata.version("h5py")
        deps.append("h5py")
    except importlib.metadata.PackageNotFoundError:
        if importlib.util.find_spec("h5py") is None:
            deps.append("h5py")
    return deps


setup(install_requires=dependencies())
