"""The host side (torch): slimmable networks (``nn``), built-in models (``models``), data (``data``),
training (``train``), the progressive sub-net search (``search``), DS-Net++ gating (``gate``), run directories
(``runs``) and the bundle compiler (``compile``). Only code under ``edgeslim.host`` may import torch.
"""
