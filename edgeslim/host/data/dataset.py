"""The in-memory dataset every loader returns: NCHW float32 images in [0, 1] and int64 labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """A seeded stratified split: x_a, x_b, y_a, y_b (b holds ``test_fraction``)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=stratify)


@dataclass
class Dataset:
    """Train and test splits plus what a deployed model needs to preprocess its input the same way."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.classes:
            self.classes = [str(c) for c in range(int(max(self.y_train.max(), self.y_test.max())) + 1)]
        self.mean = self.x_train.mean(axis=(0, 2, 3)).astype(np.float32)
        self.std = np.maximum(self.x_train.std(axis=(0, 2, 3)), 1e-3).astype(np.float32)

    def holdout(self, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The training images split into (x_train, y_train, x_val, y_val): a held-out split for search."""
        x_train, x_val, y_train, y_val = stratified_split(self.x_train, self.y_train, fraction, seed)
        return x_train, y_train, x_val, y_val

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """Images in [0, 1] -> the network's input (per-channel standardization with training statistics)."""
        return ((x - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32)

    def preprocessing(self) -> dict:
        """How to turn an image into the network's input, as plain data for run files and manifests."""
        return {"layout": "NCHW", "scale": 1 / 255, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "input_shape": list(self.input_shape)}

    def summary(self) -> str:
        c, h, w = self.input_shape
        return (f"{self.name}: {len(self.x_train)} train / {len(self.x_test)} test images, {c}x{h}x{w}, "
                f"{self.num_classes} classes")
