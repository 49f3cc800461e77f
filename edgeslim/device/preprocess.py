"""Turn a camera frame or an image file into the network's input, as the bundle's manifest says (torch-free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeslim.errors import EdgeslimError

# Image files the data loaders and the live loop read (Pillow or OpenCV decodes them).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def preprocess(image: np.ndarray, spec: dict) -> np.ndarray:
    """``image``: HxW or HxWxC (uint8, or float in [0, 1]), or CxHxW float in [0, 1] (as in a bundle's samples)
    → float32 (1, C, H, W): resized (nearest), channels matched, standardized with the training statistics."""
    _, channels, height, width = spec["shape"]
    prep = spec.get("preprocessing") or {}
    x = np.asarray(image)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) * scale
    if x.ndim == 3 and x.shape[0] == channels and x.shape[0] not in (x.shape[2],):
        x = x.transpose(1, 2, 0)  # CHW -> HWC
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] != channels:
        x = x[..., :3].mean(axis=2, keepdims=True) if channels == 1 else np.repeat(x[..., :1], channels, axis=2)
    if x.shape[:2] != (height, width):
        rows = (np.arange(height) * x.shape[0] / height).astype(int)
        cols = (np.arange(width) * x.shape[1] / width).astype(int)
        x = x[rows][:, cols]
    x = x.transpose(2, 0, 1)
    mean = np.asarray(prep.get("mean", [0.0] * channels), np.float32)[:, None, None]
    std = np.asarray(prep.get("std", [1.0] * channels), np.float32)[:, None, None]
    return ((x - mean) / std)[None].astype(np.float32)


def read_image(path: Path) -> np.ndarray:
    """An image file as HxW[xC] uint8 (Pillow or OpenCV, whichever is installed) or a .npy array."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except ImportError:
        pass
    try:
        import cv2
    except ImportError:
        raise EdgeslimError(f"{path}: reading images needs Pillow or OpenCV (pip install pillow)") from None
    image = cv2.imread(str(path))
    if image is None:
        raise EdgeslimError(f"{path}: not a readable image")
    return image[..., ::-1]
