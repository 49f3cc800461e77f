"""edgeslim: one model, every width, picked at run time on the device.

Importing the top-level package never imports torch: the device side (``edgeslim.subnets``, later the runtime)
must work on a board that has only numpy and a TFLite interpreter.
"""

__version__ = "0.1.0"
