"""Training slimmable supernets: methods (which sub-nets each step trains, and how) and the training loop."""

from .loop import TrainOptions, train
from .methods import METHODS

__all__ = ["METHODS", "TrainOptions", "train"]
