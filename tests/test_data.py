"""Dataset loaders on real local files, and their one-line errors."""

import numpy as np
import pytest
from PIL import Image

from edgeslim.errors import EdgeslimError
from edgeslim.host.data import load_dataset


def test_digits_is_embedded_and_split_the_same_way_for_a_seed():
    a, b = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    assert a.input_shape == (1, 8, 8) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_test) == 1797
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


def test_npz_uint8_hw_with_split(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(path, x=rng.integers(0, 256, (50, 12, 10), dtype=np.uint8), y=np.repeat(np.arange(5), 10))
    data = load_dataset(f"npz:{path}")
    assert data.input_shape == (1, 12, 10) and len(data.x_test) == 10 and data.num_classes == 5
    assert set(np.bincount(data.y_test)) == {2}  # stratified


def test_npz_float_hwc_with_test_arrays(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "rgb.npz"
    np.savez(path, x=rng.random((20, 8, 8, 3), dtype=np.float32), y=np.arange(20) % 4,
             x_test=rng.random((6, 8, 8, 3), dtype=np.float32), y_test=np.arange(6) % 4)
    data = load_dataset(f"npz:{path}")
    assert data.input_shape == (3, 8, 8) and len(data.x_train) == 20 and len(data.x_test) == 6


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 8, 8), np.uint8)}, "missing array"),
    ({"x": np.full((4, 8, 8), 3.0), "y": np.arange(4)}, "scale them to 0-1"),
    ({"x": np.zeros((4, 8, 8), np.uint8), "y": np.arange(3)}, "expected \\(4,\\)"),
    ({"x": np.zeros((4, 8), np.uint8), "y": np.arange(4)}, "expected \\(N,H,W\\)"),
])
def test_npz_errors_name_the_file_and_the_fix(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(EdgeslimError, match=message) as info:
        load_dataset(f"npz:{path}")
    assert "bad.npz" in str(info.value)


def test_corrupt_and_missing_files(tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(EdgeslimError, match="corrupt.npz: not a readable .npz"):
        load_dataset(f"npz:{corrupt}")
    with pytest.raises(EdgeslimError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    with pytest.raises(EdgeslimError, match="did you mean digits"):
        load_dataset("digit")
    with pytest.raises(EdgeslimError, match="needs a path"):
        load_dataset("cifar10")


def test_cifar10_binary_version(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    for name, n in [*((f"data_batch_{i}.bin", 4) for i in range(1, 6)), ("test_batch.bin", 3)]:
        records = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
        records[:, 0] = np.arange(n) % 10
        records.tofile(root / name)
    (root / "batches.meta.txt").write_text("\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                      "frog", "horse", "ship", "truck"]) + "\n")
    data = load_dataset(f"cifar10:{tmp_path}")
    assert data.input_shape == (3, 32, 32) and len(data.x_train) == 20 and len(data.x_test) == 3
    assert data.classes[0] == "airplane"
    first = np.fromfile(root / "data_batch_1.bin", dtype=np.uint8)[:3073]
    np.testing.assert_allclose(data.x_train[0], first[1:].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    (root / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(EdgeslimError, match="test_batch.bin: 100 bytes"):
        load_dataset(f"cifar10:{root}")


def test_imagefolder_with_train_and_test(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                size = (10, 10) if i else (12, 9)  # mixed sizes are resized to the first image's
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png")
    data = load_dataset(f"imagefolder:{tmp_path}")
    assert data.classes == ["cat", "dog"] and data.input_shape[0] == 3
    assert len(data.x_train) == 6 and len(data.x_test) == 4
    (tmp_path / "train" / "cat" / "broken.png").write_bytes(b"nope")
    with pytest.raises(EdgeslimError, match="broken.png: not a readable image"):
        load_dataset(f"imagefolder:{tmp_path}")
