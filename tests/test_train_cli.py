"""`edgeslim train` / `eval` end to end through the CLI: run files, metrics, resume, and user errors."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import run_cli, train_killed_after
from safetensors.torch import load_file

from edgeslim.host.data import load_dataset
from edgeslim.host.train.steps import Batches, set_cosine_lr

TINY = ["--model", "resnet20", "--data", "digits", "--calib-samples", "256", "--batch-size", "128"]


def test_train_then_eval_writes_a_complete_run(tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", *TINY, "--epochs", "2", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    names = [c["name"] for c in summary["configs"]]
    assert names == ["w025", "w050", "w075", "w100"]
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "run.json"]
    assert not (tmp_path / "run.partial").exists()
    tensors = load_file(out / "model.safetensors")
    assert "bn.w025.stem.1.running_mean" in tensors and tensors["bn.w025.stem.1.running_mean"].numel() == 4
    mflops = [c["meta"]["mflops"] for c in summary["configs"]]
    assert mflops == sorted(mflops) and mflops[-1] > 10 * mflops[0]

    plot = tmp_path / "acc.png"
    result = run_cli("eval", str(out), "--json", "--widths", "0.6", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["configs"]
    assert [r["name"] for r in rows] == ["w025", "w050", "w075", "w100", "w060"]
    for row, trained in zip(rows, summary["configs"]):  # same weights, same stored BN statistics, same split
        assert row["top1"] == trained["meta"]["top1"] and row["channels"] == trained["channels"]
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    args = [*TINY, "--epochs", "4", "--seed", "1"]
    reference = run_cli("train", *args, "--out", str(tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr

    out, partial = tmp_path / "killed", tmp_path / "killed.partial"
    train_killed_after(args, out, epoch=2)
    assert not out.exists() and (partial / "checkpoint.safetensors").is_file()

    resumed = run_cli("train", *args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    a, b = load_file(tmp_path / "ref" / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max() <= 1e-5, key
    history = json.loads((out / "run.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_user_mistakes_get_one_line_without_traceback(tmp_path):
    cases = [
        (["train", "--model", "resnet21"], "did you mean resnet20"),
        (["train", "--data", "digts"], "did you mean digits"),
        (["train", "--method", "usnets"], "did you mean usnet"),
        (["train", "--epcohs", "3"], "did you mean --epochs"),
        (["trian"], "did you mean train"),
        (["train", "--data", f"npz:{tmp_path}/none.npz", "--out", str(tmp_path / "x")], "none.npz: no such file"),
        (["eval", str(tmp_path / "missing")], "no such run directory"),
        (["train", "--widths", "0.5,x", "--out", str(tmp_path / "y")], "'x' is not a number"),
        (["train", "--out", str(tmp_path / "z"), "--resume"], "no checkpoint"),
        (["train", "--method", "single", "--teacher", "ema", "--out", str(tmp_path / "s")], "drop --teacher"),
        (["train", "--teacher", "ema", "--ema-decay", "1.5", "--out", str(tmp_path / "e")], "--ema-decay must be"),
        (["train", "--epochs", "3", "--warmup-epochs", "4", "--out", str(tmp_path / "w")], "--warmup-epochs must be"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_corrupt_run_files_are_one_line_errors(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--epochs", "1", "--widths", "1.0", "--out", str(out)).returncode == 0
    existing = run_cli("train", *TINY, "--epochs", "1", "--out", str(out))
    assert existing.returncode == 2 and "already exists" in existing.stderr
    (out / "model.safetensors").write_bytes(b"\x00" * 64)
    result = run_cli("eval", str(out))
    assert result.returncode == 2 and "model.safetensors: not a readable safetensors file" in result.stderr
    (out / "run.json").write_text("{")
    result = run_cli("eval", str(out))
    assert result.returncode == 2 and "run.json: not valid JSON" in result.stderr


def test_non_uniform_configurations_ship_with_their_own_bn_statistics(tmp_path):
    channels = {"blocks.0.conv1": 4, "blocks.1.conv1": 16, "blocks.2.conv1": 8, "stem.0": 12,
                "blocks.3.conv1": 8, "blocks.4.conv1": 32, "blocks.5.conv1": 16, "blocks.3.conv2": 24,
                "blocks.6.conv1": 64, "blocks.7.conv1": 8, "blocks.8.conv1": 40, "blocks.6.conv2": 48}
    configs = tmp_path / "configs.json"
    configs.write_text(json.dumps([{"name": "mixed", "channels": channels}]))
    out = tmp_path / "run"
    result = run_cli("train", *TINY, "--epochs", "1", "--widths", "1.0", "--configs", str(configs),
                     "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    shipped = json.loads(result.stdout)["configs"]
    assert [c["name"] for c in shipped] == ["w100", "mixed"] and shipped[1]["channels"] == channels
    tensors = load_file(out / "model.safetensors")
    assert tensors["bn.mixed.stem.1.running_mean"].numel() == 12
    evaluated = json.loads(run_cli("eval", str(out), "--json").stdout)["configs"]
    assert evaluated[1]["top1"] == shipped[1]["meta"]["top1"]

    channels["stem.0"] = 10
    configs.write_text(json.dumps([{"name": "mixed", "channels": channels}]))
    result = run_cli("eval", str(out), "--configs", str(configs))
    assert result.returncode == 2 and "group 'stem.0' has 10 channels; use a multiple of 4" in result.stderr
    result = run_cli("train", "--device", "gpu")
    assert result.returncode == 2 and "unknown value for --device 'gpu'" in result.stderr


def test_models_lists_what_train_accepts():
    listing = json.loads(run_cli("models", "--json").stdout)
    assert listing["models"] == ["resnet20", "resnet18", "mobilenetv2", "mobilenetv3_small", "mobilenetv3_large",
                                 "efficientnet_lite0", "efficientnet_b0", "regnetx_200mf", "regnety_200mf",
                                 "regnetx_400mf", "regnety_400mf", "ghostnet", "resnet50", "resnext50_32x4d",
                                 "densenet121", "shufflenetv2"]
    assert "npz:PATH" in listing["datasets"] and "digits" in listing["datasets"]
    assert listing["methods"] == ["usnet", "dsnet", "single", "pss"]


def test_training_batches_are_full():
    data = load_dataset("digits")
    batches = Batches(data, 64, True, data.x_train[:1221], data.y_train[:1221])  # 19 full batches + 5 images
    sizes = [len(y) for _, y in batches.epoch(np.random.default_rng(0), torch.Generator().manual_seed(0))]
    assert sizes == [64] * 19 == [64] * len(batches)
    assert len(Batches(data, 64, False, data.x_train[:10], data.y_train[:10])) == 1  # fewer than a batch: one


def test_the_learning_rate_warms_up_linearly_then_follows_the_cosine(tmp_path):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    rates = []
    for step in range(100):
        set_cosine_lr(optimizer, 0.1, step, 100, warmup_steps=10)
        rates.append(optimizer.param_groups[0]["lr"])
    cosine = [0.05 * (1 + math.cos(math.pi * step / 100)) for step in range(100)]
    assert rates[:10] == pytest.approx([c * (step + 1) / 10 for step, c in enumerate(cosine[:10])])
    assert rates[10:] == pytest.approx(cosine[10:])

    # the training loop applies it: a killed run's checkpoint holds the warmed-up rate of its last step
    out = tmp_path / "warm"
    train_killed_after([*TINY, "--method", "single", "--epochs", "4", "--warmup-epochs", "4"], out, epoch=1)
    info = json.loads((tmp_path / "warm.partial" / "run.json").read_text())
    per_epoch = len(Batches(load_dataset("digits"), 128, True))
    steps, total = info["epoch"] * per_epoch, 4 * per_epoch
    assert info["options"]["warmup_epochs"] == 4 and 1 <= info["epoch"] < 4
    lr = info["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.1 * steps / total * 0.5 * (1 + math.cos(math.pi * (steps - 1) / total)))
