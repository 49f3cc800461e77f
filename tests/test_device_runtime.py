"""The device side end to end on a real bundle: profile (with a loopback serial power meter), simulate against
the shipped traces, the live loop and the Pi / Jetson demos in the torch-free environment, background telemetry."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading

import numpy as np
import pytest
from conftest import ROOT, device_python, run_cli

TRACES = {name: ROOT / "calibration" / f"trace-{name}.csv" for name in ("throttling-ramp", "battery-drain")}


class CsvMeterEmulator:
    """An INA219 bridge on loopback: streams ``volts,milliamps,milliwatts`` lines until closed."""

    def __init__(self, line: bytes):
        self.line, self.stop = line, threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.server.settimeout(30)
        conn, _ = self.server.accept()
        with conn:
            while not self.stop.wait(0.002):
                try:
                    conn.sendall(self.line)
                except OSError:
                    return

    def close(self):
        self.stop.set()
        self.server.close()
        self.thread.join(5)


def test_profile_measures_every_width_and_writes_the_latency_table(bundle_copy, tiny_run):
    meter = CsvMeterEmulator(b"5.00,400.0,2000.0\r\n")
    try:
        result = run_cli("profile", str(bundle_copy), "--runs", "30", "--warmup", "3", "--backend", "tflite",
                         "--meter", f"csv:{meter.url}", "--device-name", "test-x86", "--json")
    finally:
        meter.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert sorted(summary["order"]) == ["w025", "w050", "w075", "w100"]
    profile = json.loads((bundle_copy / "profiles" / "test-x86-tflite.json").read_text())
    for width in profile["widths"]:
        assert len(width["samples_ms"]) == 30
        assert width["p50_ms"] <= width["p90_ms"] <= width["p99_ms"]
        assert width["power_w"] == pytest.approx(2.0)
        assert width["energy_mj"] == pytest.approx(2.0 * width["mean_ms"], rel=1e-3)
    assert profile["peak_rss_mb"] > 0 and profile["load_ms"]["init"] > 0

    from edgeslim.host.runs import load_run
    from edgeslim.host.search.costs import load_latency_table

    supernet = load_run(tiny_run).supernet
    latency = load_latency_table(bundle_copy / "profiles" / "test-x86-tflite.latency.json", supernet)
    table = {w["name"]: w["p50_ms"] for w in profile["widths"]}
    configs = {c.name: c for c in load_run(tiny_run).configs}
    for name, ms in table.items():  # the measured sub-nets are reproduced exactly, others interpolated
        assert latency(configs[name]) == pytest.approx(ms, rel=1e-3)
    bad = run_cli("profile", str(bundle_copy), "--meter", "usb:/dev/x")
    assert bad.returncode == 2 and "expected csv:URL or um:URL" in bad.stderr


def _synthetic_profile(bundle, p50s=(1.0, 2.0, 4.0, 8.0)):
    """A fixed latency profile (a 10 % spread around each p50), so the simulation is deterministic."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    rng = np.random.default_rng(0)
    widths = [{"name": w["name"], "mflops": w["mflops"], "top1": t, "p50_ms": p,
               "samples_ms": (p * rng.uniform(0.9, 1.1, 200)).round(4).tolist()}
              for w, p, t in zip(manifest["widths"], p50s, (80.0, 90.0, 94.0, 96.0))]
    (bundle / "profiles").mkdir(exist_ok=True)
    profile = {"format": "edgeslim-profile/1", "device": "synthetic", "backend": "tflite", "widths": widths}
    (bundle / "profiles" / "synthetic.json").write_text(json.dumps(profile))


@pytest.mark.parametrize("trace", TRACES)
def test_simulate_controller_against_the_references(bundle_copy, tmp_path, trace):
    _synthetic_profile(bundle_copy)
    plot = tmp_path / "timeline.png"
    result = run_cli("simulate", str(bundle_copy), "--trace", str(TRACES[trace]), "--slo-ms", "11",
                     "--profile", "synthetic", "--plot", str(plot), "--json")
    assert result.returncode == 0, result.stderr
    policies = json.loads(result.stdout)["policies"]
    assert set(policies) == {"controller", "oracle", "always largest", "always smallest"}
    controller, oracle = policies["controller"], policies["oracle"]
    assert policies["always smallest"]["mean_top1"] == 80.0 and policies["always largest"]["mean_top1"] == 96.0
    assert controller["miss_rate_pct"] <= 1.0
    assert policies["always smallest"]["mean_top1"] < controller["mean_top1"] <= oracle["mean_top1"] + 0.05
    if trace == "throttling-ramp":  # throttled (x2) the largest width misses 11 ms; the controller must not
        assert policies["always largest"]["miss_rate_pct"] > 1.0
        assert controller["switches_per_min"] > 0
    assert plot.stat().st_size > 10_000


def test_simulate_needs_a_profile(bundle_copy):
    shutil.rmtree(bundle_copy / "profiles", ignore_errors=True)
    result = run_cli("simulate", str(bundle_copy), "--trace", str(TRACES["battery-drain"]))
    assert result.returncode == 2 and "edgeslim profile" in result.stderr


def test_run_and_the_demos_work_in_the_device_env_with_replayed_telemetry(bundle_copy):
    python = device_python()
    trace = str(TRACES["throttling-ramp"])
    result = subprocess.run([python, "-m", "edgeslim", "run", str(bundle_copy), "--frames", "200", "--json",
                             "--telemetry", f"replay:{trace}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 200 and summary["backend"] == "tflite" and summary["top1"] is not None
    assert summary["last_reading"]["temperature_c"] > 40
    for demo in ("rpi", "jetson"):
        result = subprocess.run([python, str(ROOT / "apps" / demo / "demo.py"), str(bundle_copy), "--replay", trace,
                                 "--replay-speed", "400", "--seconds", "2"], capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["frames"] > 0 and summary["telemetry"] == ["replay"]
        assert sum(summary["time_per_width_pct"].values()) == pytest.approx(100.0, abs=0.1)
    missing = subprocess.run([python, str(ROOT / "apps" / "rpi" / "demo.py"), str(bundle_copy), "--input",
                              str(bundle_copy / "nothing-here")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no images" in missing.stderr


def test_background_poller_never_waits_for_a_slow_source():
    from edgeslim.device.telemetry import BackgroundPoller, Reading

    release = threading.Event()

    def slow_read():
        release.wait(30)  # a vcgencmd call or a serial timeout that has not returned yet
        return Reading(temperature_c=61.0)

    with BackgroundPoller(slow_read, period_s=0.01) as poller:
        assert poller.latest() is None  # returns at once while the source is still busy
        release.set()
        for _ in range(3000):
            if poller.latest() is not None:
                break
            threading.Event().wait(0.01)
        assert poller() == Reading(temperature_c=61.0)


def test_preprocess_matches_the_training_normalization():
    from edgeslim.device.preprocess import preprocess

    spec = {"shape": [1, 1, 8, 8], "preprocessing": {"mean": [0.5], "std": [0.25]}}
    rgb = np.full((32, 32, 3), 255, np.uint8)
    x = preprocess(rgb, spec)
    assert x.shape == (1, 1, 8, 8) and x.dtype == np.float32 and np.allclose(x, 2.0)
    chw = np.zeros((1, 8, 8), np.float32)
    assert np.allclose(preprocess(chw, spec), -2.0)
