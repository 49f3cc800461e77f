"""A new user's first hour (issue: installed data paths, Ctrl-C, stdout/stderr, honest help, a demo that shows
the controller): each row of that table as a test, on the session's tiny bundle and run."""

from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, device_python, run_cli

from edgeslim.errors import EdgeslimError


@pytest.fixture(scope="session")
def device_install(tmp_path_factory) -> dict:
    """A non-editable install of this checkout's wheel into the torch-free device environment (a prefix of its
    own, so the checkout's editable install is not used): the environment variables to run it with."""
    python = device_python()
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"  # a copy: building writes build/ and *.egg-info next to the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "runs", "bench", "tests", "dist", "__pycache__",
                                                                "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(where / "dist"), str(source)], check=True, capture_output=True)
    wheel, = (where / "dist").glob("edgeslim-*.whl")
    # --ignore-installed: leave the environment's own (editable) edgeslim in place
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
                    "--prefix", str(where / "prefix"), str(wheel)], check=True, capture_output=True)
    site, = (where / "prefix" / "lib").glob("python3.*/site-packages")
    return {"python": python, "env": {**os.environ, "PYTHONPATH": str(site)}, "site": site}


def test_shipped_traces_resolve_outside_a_checkout_in_an_installed_package(bundle_copy, device_install, tmp_path):
    python, env = device_install["python"], device_install["env"]
    where = subprocess.run([python, "-c", "import edgeslim.resources as r; print(r.__file__); "
                            "print(r.data_dir('calibration'))"], capture_output=True, text=True, env=env, cwd=tmp_path)
    module, calibration = where.stdout.split()
    assert module.startswith(str(device_install["site"])) and not calibration.startswith(str(ROOT))
    profile = subprocess.run([python, "-m", "edgeslim", "profile", str(bundle_copy), "--runs", "20"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert profile.returncode == 0, profile.stderr
    for trace in ("calibration/trace-throttling-ramp.csv", "throttling-ramp"):
        result = subprocess.run([python, "-m", "edgeslim", "simulate", str(bundle_copy), "--trace", trace, "--json"],
                                capture_output=True, text=True, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["trace"].startswith(calibration)
    demo = subprocess.run([python, str(ROOT / "apps/rpi/demo.py"), str(bundle_copy), "--replay",
                           "calibration/trace-battery-drain.csv", "--seconds", "1"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    missing = subprocess.run([python, "-m", "edgeslim", "simulate", str(bundle_copy), "--trace", "ramp.csv"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"edgeslim simulate: error: ramp.csv: no such trace file; shipped traces: battery-drain, throttling-ramp "
        f"(in {calibration})"]
    models = subprocess.run([python, "-m", "edgeslim", "models", "--json"], capture_output=True, text=True, env=env)
    assert models.returncode == 0, models.stderr
    assert "resnet20" in json.loads(models.stdout)["models"]  # listed on the torch-free install


def _sigint_as_a_terminal_sends_it() -> None:
    """In the child: Ctrl-C's default action, whatever ignore or mask this test process passed down."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _interrupt_when_running(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Start ``command``, wait for its 'running …' line on stderr, then press Ctrl-C (SIGINT)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_a_terminal_sends_it, **kwargs)
    seen = []
    for line in iter(proc.stderr.readline, ""):
        seen.append(line)
        if line.startswith("running "):
            break
    time.sleep(1.0)  # let some frames run
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        masks = [line for line in status.splitlines() if line.startswith(("SigIgn", "SigBlk", "SigCgt"))]
        proc.kill()
        pytest.fail(f"{command[2:4]} still running 120 s after Ctrl-C ({'; '.join(masks)}); stderr: {''.join(seen)}")
    return subprocess.CompletedProcess(command, proc.returncode, out, "".join(seen) + err)


def test_ctrl_c_prints_the_summary_and_exits_130(bundle_copy):
    result = _interrupt_when_running([sys.executable, "-m", "edgeslim", "run", str(bundle_copy), "--json"])
    assert result.returncode == 130, result.stderr
    summary = json.loads(result.stdout)
    assert summary["interrupted"] is True and summary["frames"] > 0 and "Traceback" not in result.stderr
    demo = _interrupt_when_running([device_python(), str(ROOT / "apps/rpi/demo.py"), str(bundle_copy), "--replay",
                                    "throttling-ramp", "--seconds", "600"])
    assert demo.returncode == 130 and "Traceback" not in demo.stderr, demo.stderr
    assert json.loads(demo.stdout)["interrupted"] is True


def test_widths_are_set_by_name_or_index_and_anything_else_is_one_clear_error(tiny_bundle):
    from edgeslim import DynamicModel

    model = DynamicModel.open(tiny_bundle, backend="tflite")
    model.set_width(model.widths[1])
    model.set_width(0)
    assert model.width == model.widths[0]
    for bad, message in ((0.5, "give a width's name (w025, w050, w075, w100) or its index"),
                         (7, "has 4 widths"), ("w060", "unknown width 'w060'")):
        with pytest.raises(EdgeslimError, match=re.escape(message)):
            model.set_width(bad)


def test_predict_takes_raw_images_and_calls_take_batches(tiny_bundle):
    from edgeslim import DynamicModel, open_bundle
    from edgeslim.device.preprocess import preprocess

    bundle = open_bundle(tiny_bundle)
    model = DynamicModel.open(bundle, backend="tflite")
    x, y = bundle.samples()
    scores = model.predict(x)  # raw (N, C, H, W) test images in [0, 1]
    assert scores.shape == (len(x), 10)
    assert (scores.argmax(1) == y).mean() > 0.6  # right predictions, not the 11 % of unnormalized input
    one = model.predict(x[3])
    assert np.allclose(one, scores[3], atol=1e-5)
    hwc = (x[3].transpose(1, 2, 0) * 255).round().astype(np.uint8)  # a uint8 H x W x 1 image
    assert model.predict(hwc).argmax() == one.argmax()
    batch = np.concatenate([preprocess(x[i], bundle.manifest["input"]) for i in range(2)])
    assert model(batch).shape == (2, 10)
    with pytest.raises(EdgeslimError, match=r"input of shape \(1, 8, 8\).*use predict\(\)"):
        model(x[0])


def test_run_on_an_image_folder_prints_a_prediction_per_image_in_the_device_env(bundle_copy, tmp_path):
    from PIL import Image

    from edgeslim import open_bundle

    x, y = open_bundle(bundle_copy).samples()
    folder = tmp_path / "images"
    for i in range(6):
        (folder / str(y[i])).mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[i, 0] * 255).round().astype(np.uint8)).save(folder / str(y[i]) / f"{i}.png")
    result = subprocess.run([device_python(), "-m", "edgeslim", "run", str(bundle_copy), "--input", str(folder)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6 and all(line.count("\t") == 3 for line in lines)
    assert sorted(line.split("\t")[0] for line in lines) == sorted(f"{y[i]}/{i}.png" for i in range(6))
    summary = json.loads(subprocess.run([device_python(), "-m", "edgeslim", "run", str(bundle_copy), "--input",
                                         str(folder), "--json"], capture_output=True, text=True).stdout)
    assert summary["top1"] is not None and len(summary["predictions"]) == 6  # labels from the class folders


def test_tables_go_to_stdout_and_success_lines_stay_whole(tiny_run, tmp_path):
    result = run_cli("eval", str(tiny_run), "--plot", str(tmp_path / "a.png"), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "w025" in result.stdout and "top-1" in result.stdout
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        next(line for line in result.stderr.splitlines() if line.startswith("✓ plot saved to"))]
    assert "android-arm64" in run_cli("targets").stdout


def test_profile_of_an_archive_names_the_real_file_and_backends_keep_their_profiles(bundle_copy, tmp_path):
    from edgeslim.host.compile.builder import write_archive

    archive = write_archive(bundle_copy)
    cache = tmp_path / "cache"
    result = run_cli("profile", str(archive), "--runs", "5", "--backend", "tflite", "--device-name", "box",
                     env={"EDGESLIM_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "saved to" in line)
    saved = Path(line.split("saved to ")[1].split(" (")[0])
    assert saved.is_file() and saved.name == "box-tflite.json" and cache in saved.resolve().parents
    assert "(0 B" not in line
    for backend in ("tflite", "executorch"):
        assert run_cli("profile", str(bundle_copy), "--runs", "5", "--backend", backend, "--device-name",
                       "box").returncode == 0
    assert sorted(p.name for p in (bundle_copy / "profiles").glob("*.json")) == [
        "box-executorch.json", "box-executorch.latency.json", "box-tflite.json", "box-tflite.latency.json"]
    chosen = json.loads(run_cli("simulate", str(bundle_copy), "--trace", "throttling-ramp", "--profile",
                                "box-tflite", "--json").stdout)
    assert chosen["backend"] == "tflite"


def test_bad_values_are_one_line_with_the_fix(bundle_copy):
    cases = [(["simulate", str(bundle_copy), "--trace", "throttling-ramp", "--slo-ms", "-1"], "--slo-ms -1.0"),
             (["run", str(bundle_copy), "--slo-ms", "-1"], "use a positive latency"),
             (["profile", str(bundle_copy), "--threads", "0"], "--threads 0: use at least 1"),
             (["run", str(bundle_copy), "--gate-head", "c1", "--frames", "1"], "has no gate"),
             (["train", "--method", "US-Nets"], "did you mean usnet"),
             (["profile", str(bundle_copy), "--device", "x"], "did you mean --device-name"),
             (["profile", str(bundle_copy), "--device-name", "../x"], "letters, digits")]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_help_shows_defaults_and_a_bare_command_its_usage():
    train = " ".join(run_cli("train", "--help").stdout.split())
    for default in ("pss: supernet + joint training) (default 30)", "cosine schedule (default 0.1)",
                    "batch size (default 64)", "and report (default 0.25,0.5,0.75,1)", "(default runs/<data>-<method>)",
                    "and sampling (default 0)", "recalibration (default 2000)", "(default 50)"):
        assert default in train, default
    search = " ".join(run_cli("search", "--help").stdout.split())
    assert "(default 50)" in search and "(default 10)" in search and "(default 0.25,0.5,0.75,1)" in search
    assert "default: the target's" in " ".join(run_cli("run", "--help").stdout.split())
    bare = run_cli()
    assert bare.returncode == 2 and "usage: edgeslim" in bare.stderr and "train" in bare.stderr
    demo = subprocess.run([sys.executable, str(ROOT / "apps/rpi/demo.py"), "--help"], capture_output=True, text=True)
    assert "(optionally) a USB power meter." in " ".join(demo.stdout.split())


def test_json_everywhere_and_train_keeps_its_success_line(tiny_bundle, tmp_path):
    unpacked = run_cli("unpack", str(tiny_bundle), "--out", str(tmp_path / "u"), "--json")
    assert unpacked.returncode == 0, unpacked.stderr
    assert sorted(Path(p).name for p in json.loads(unpacked.stdout)["artifacts"]) == [
        "model.mlpackage", "model.pte", "model.tflite"]
    trained = run_cli("train", "--epochs", "1", "--calib-samples", "64", "--out", str(tmp_path / "r"), "--json")
    assert trained.returncode == 0 and json.loads(trained.stdout)["configs"]
    assert any(line.startswith("✓ run saved to") for line in trained.stderr.splitlines())


def test_simulate_defaults_the_slo_from_the_profile_so_the_controller_has_work(bundle_copy, tmp_path):
    import edgeslim

    edgeslim.profile(bundle_copy, runs=30, backend="tflite")
    result = edgeslim.simulate(bundle_copy, "throttling-ramp")
    largest = max(result.timeline["latency_largest_ms"])
    assert result.summary["slo_from"].startswith("1.5 × p90")
    assert result.policies["always largest"]["miss_rate_pct"] > 1.0  # throttled, the widest width misses
    assert largest > result.summary["slo_ms"] and len(result.timeline["latency_smallest_ms"]) == result.summary[
        "frames"]
    assert result.plot(tmp_path / "t.png").stat().st_size > 10_000


def test_the_accuracy_plot_draws_extra_widths_apart_and_says_what_was_measured(tiny_run):
    from edgeslim import load_run
    from edgeslim.host.plot import run_curves

    run = load_run(tiny_run)
    curves = run_curves(run, run.evaluate(widths="0.3"))
    assert [r["name"] for r in curves["usnet (shipped)"]] == ["w025", "w050", "w075", "w100"]
    assert [r["name"] for r in curves["extra widths (BN recalibrated)"]] == ["w030"]
