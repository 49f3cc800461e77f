"""`edgeslim train` / `eval` end to end through the CLI: run files, metrics, resume, and user errors."""

import json
import signal
import subprocess
import sys
import time

from safetensors.torch import load_file

from conftest import run_cli

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
    proc = subprocess.Popen([sys.executable, "-m", "edgeslim", "train", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        sidecar = partial / "run.json"
        if sidecar.is_file() and json.loads(sidecar.read_text())["epoch"] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
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
