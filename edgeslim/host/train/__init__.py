"""Training: US-Nets (sandwich rule + in-place distillation), DS-Net++ stage I, single widths; options are
torch-free (the loop is imported when used)."""

from edgeslim.host.train.methods import METHODS
from edgeslim.host.train.options import TRAINING_METHODS, TrainOptions

__all__ = ["METHODS", "TRAINING_METHODS", "TrainOptions"]
