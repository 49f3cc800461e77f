"""Your own model: ``--model path/to/file.py:function`` and ``--init WEIGHTS`` (pretrained weights, reordered)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from edgeslim.errors import EdgeslimError
from edgeslim.host.models import build_supernet, resolved
from edgeslim.host.models.pretrained import load_pretrained
from edgeslim.host.search.ranking import rank_blocks
from edgeslim.host.train.steps import Batches

MODEL_FILE = '''
from torch import nn


def tiny(in_channels, num_classes, image_size):
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))


def digits_net():
    return tiny(1, 10, 8)


def not_a_model():
    return 42
'''


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(MODEL_FILE)
    return path


def one_line_error(result, *parts: str) -> None:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert all(p in last for p in parts), last


def test_a_model_from_a_file_trains_reloads_anywhere_and_refuses_a_changed_file(model_file, tmp_path, cli):
    run = tmp_path / "run"
    result = cli("train", "--model", f"{model_file.name}:tiny", "--epochs", "1", "--out", str(run), "--json",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == f"{model_file}:tiny" and len(info["model_sha256"]) == 64  # absolute: reloads anywhere
    assert cli("eval", str(run), "--json").returncode == 0  # a new process, another working directory
    result = cli("train", "--model", f"{model_file}:digits_net", "--epochs", "1", "--out", str(tmp_path / "r2"))
    assert result.returncode == 0, result.stderr  # a factory without arguments
    model_file.write_text(MODEL_FILE + "\n# edited\n")
    one_line_error(cli("eval", str(run)), str(model_file), "changed since the run was trained")


@pytest.mark.parametrize("spec, parts", [
    ("nowhere.py:tiny", ["no such file", "path/to/file.py:function"]),
    ("{file}:nope", ["has no function 'nope'", "digits_net, not_a_model, tiny"]),
    ("{file}:not_a_model", ["returned a int, not a torch.nn.Module"]),
    ("{broken}:tiny", ["importing it failed (ZeroDivisionError"]),
])
def test_a_bad_model_file_is_one_line(spec, parts, model_file, tmp_path, cli):
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1 / 0\n")
    out = tmp_path / "run"
    one_line_error(cli("train", "--model", spec.format(file=model_file, broken=broken), "--epochs", "1",
                       "--out", str(out)), *parts)
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_init_loads_pretrained_weights_and_the_reorder_keeps_the_full_network(model_file):
    spec = resolved(f"{model_file}:tiny")
    from edgeslim.host.models import file_factory

    torch.manual_seed(0)  # the ranking below depends on the weights: the same ones in every test order
    pretrained = file_factory(spec)(1, 10, 8).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong permutation of them would show
        for module in pretrained.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    path = model_file.with_name("pretrained.safetensors")
    save_file(pretrained.state_dict(), str(path))
    supernet = build_supernet(spec, (1, 8, 8), 10)
    load_pretrained(supernet, path)
    x = torch.randn(16, 1, 8, 8)
    supernet.eval().set_config(supernet.space.largest())
    with torch.no_grad():
        expected = pretrained(x)
        assert torch.allclose(supernet(x), expected, atol=1e-6)
    from edgeslim.host.data import load_dataset

    before = {name: t.clone() for name, t in supernet.net.state_dict().items()}
    orders = rank_blocks(supernet, Batches(load_dataset("digits"), 64, False), steps=20, show_progress=False)
    supernet.permute_channels(orders)
    supernet.eval().set_config(supernet.space.largest())
    assert any(not torch.equal(o, torch.arange(len(o))) for o in orders.values())  # channels did move
    after = supernet.net.state_dict()
    assert any(not torch.equal(after[name], t) for name, t in before.items())  # and the weights with them
    with torch.no_grad():
        assert torch.allclose(supernet(x), expected, atol=1e-5)


def test_init_from_a_checkpoint_trains_and_records_it(model_file, tmp_path, cli):
    from edgeslim.host.models import file_factory

    net = file_factory(f"{model_file}:tiny")(1, 10, 8)
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, checkpoint)
    run = tmp_path / "run"
    result = cli("train", "--model", f"{model_file}:tiny", "--epochs", "1", "--init", str(checkpoint),
                 "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "ranking the channels" in result.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["init"]["reordered"] is True and info["init"]["file"] == str(checkpoint)


def test_init_that_does_not_fit_is_one_line_and_writes_nothing(model_file, tmp_path, cli):
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, pickled)
    other = tmp_path / "other.safetensors"
    save_file({"fc.weight": torch.zeros(10, 64)}, str(other))
    out = tmp_path / "run"
    for init, parts in ((pickled, ["pickled objects", "weights_only=True"]),
                        (other, ["does not fit the model", "missing", "unexpected (fc.weight)"]),
                        (tmp_path / "none.pt", ["no such file"])):
        one_line_error(cli("train", "--model", f"{model_file}:tiny", "--epochs", "1", "--init", str(init),
                           "--out", str(out)), str(init), *parts)
        assert not out.exists() and not out.with_name("run.partial").exists()
    supernet = build_supernet(resolved(f"{model_file}:tiny"), (1, 8, 8), 10)
    reshaped = {k: v.clone() for k, v in supernet.net.state_dict().items()}
    reshaped["0.weight"] = torch.zeros(3)
    save_file(reshaped, str(other))
    with pytest.raises(EdgeslimError, match=r"1 of another shape \(0.weight \[3\] \(model \[16, 1, 3, 3\]\)\)"):
        load_pretrained(supernet, other)
