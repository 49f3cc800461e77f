"""Training: US-Nets (sandwich rule + in-place distillation), single widths; options are torch-free."""

from edgeslim.host.train.methods import METHODS
from edgeslim.host.train.options import TrainOptions

__all__ = ["METHODS", "TrainOptions", "train"]


def __getattr__(name: str):
    if name == "train":  # the training loop needs torch; importing the options must not
        from edgeslim.host.train.loop import train

        return train
    raise AttributeError(name)
