"""Bundles and run directories from elsewhere are untrusted: a seeded fuzz (clean error or correct run, never
another exception, hang, crash, wrong output or a file touched outside), and the cases that once went wrong."""

from __future__ import annotations

import io
import json
import shutil
import socket
import sys
import tarfile
import threading

import pytest
from conftest import ROOT, device_python, run_cli

sys.path.insert(0, str(ROOT / "bench"))
import fuzz_bundle  # noqa: E402 (the bench's fuzzer, run here with fewer cases)

BAD = ("exception", "hang", "crash", "wrong output", "outside")


def _assert_clean(results):
    bad = [r for r in results if r["outcome"] in BAD]
    assert not bad, bad[:5]
    assert {r["outcome"] for r in results} >= {"clean error"}


def test_fuzzed_bundles_give_a_clean_error_or_a_correct_run(tiny_bundle):
    results = fuzz_bundle.fuzz_bundles(tiny_bundle, cases=300, seed=11, python=device_python())
    assert len(results) == 300 and {r["family"] for r in results} == set(fuzz_bundle.FAMILIES)
    _assert_clean(results)


def test_fuzzed_run_directories_and_telemetry(tiny_run):
    _assert_clean(fuzz_bundle.fuzz_runs(tiny_run, cases=60, seed=3))
    telemetry = fuzz_bundle.fuzz_telemetry(cases=300, seed=3)
    assert all(r["outcome"] == "ok" for r in telemetry), [r for r in telemetry if r["outcome"] != "ok"][:5]


def _edit(bundle, change):
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _one_line(result, message):
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_names_outside_the_bundle_are_refused_and_unpack_stays_in_its_folder(bundle_copy, tmp_path):
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "keep.txt").write_text("keep")
    for field, value in (("stored_as", "/usr/lib"), ("stored_as", "../decoy"), ("file", "../decoy")):
        broken = tmp_path / f"b-{field}-{value.strip('/.').replace('/', '_')}"
        shutil.copytree(bundle_copy, broken)
        _edit(broken, lambda m, field=field, value=value: m["artifacts"]["coreml"].__setitem__(field, value))
        _one_line(run_cli("unpack", str(broken), "--out", str(tmp_path / "out")), "matching regex")
    assert (decoy / "keep.txt").read_text() == "keep"
    link = tmp_path / "linked"
    shutil.copytree(bundle_copy, link)
    (link / "samples.npz").unlink()
    (link / "samples.npz").symlink_to(tiny_path := bundle_copy / "samples.npz")
    assert tiny_path.is_file()
    _one_line(run_cli("run", str(link), "--frames", "1"), "a link or outside the bundle")


def _weight(manifest: dict) -> dict:
    """The recipe of the first conv weight with more than one output channel."""
    return next(r for r in manifest["tensors"].values() if len(r["shape"]) == 4 and r["shape"][0] > 1)


@pytest.mark.parametrize("change, message", [
    (lambda m: m["input"].__setitem__("shape", [1, 1, 0, 8]), "Expected `int` >= 1"),
    (lambda m: (m["input"].__setitem__("shape", [1, 1, 60000, 60000]),
                m["model"].__setitem__("input_shape", [1, 60000, 60000])), "larger than"),
    (lambda m: m["widths"][1].__setitem__("name", m["widths"][0]["name"]), "appears twice"),
    (lambda m: m["widths"][0]["backends"]["tflite"].__setitem__("entry", m["widths"][1]["name"]), "not its own"),
    (lambda m: m.__setitem__("schema", "edgeslim-bundle/9"), "built by a newer edgeslim"),
    (lambda m: m["artifacts"]["tflite"]["holes"][0].__setitem__(0, 10**9), "overlaps the previous one"),
    (lambda m: m["samples"].__setitem__("file", "/etc/passwd"), "Expected `str` matching regex"),
    (lambda m: _weight(m).__setitem__("rows", [[60000, _weight(m)["shape"][0]]]), "is not a prefix of"),
    (lambda m: _weight(m).__setitem__("rows", [[0, 1]]), "do not make its shape"),
])
def test_manifest_relations_are_checked_before_use(bundle_copy, change, message):
    _edit(bundle_copy, change)
    _one_line(run_cli("run", str(bundle_copy), "--frames", "1", "--backend", "tflite"), message)


def test_archives_are_bounded_and_plain(bundle_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGESLIM_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"\0" * 10240)
    _one_line(run_cli("run", str(empty), "--frames", "1"), "empty.tar")
    many = tmp_path / "many.tar"
    with tarfile.open(many, "w") as tar:
        tar.add(bundle_copy / "manifest.json", arcname="manifest.json")
        for i in range(10_001):
            tar.addfile(tarfile.TarInfo(f"e/{i}"), io.BytesIO(b""))
    _one_line(run_cli("run", str(many), "--frames", "1"), "more than 10000 members")
    big = tmp_path / "big.tar"
    with tarfile.open(big, "w") as tar:
        for file in sorted(p for p in bundle_copy.rglob("*") if p.is_file()):
            tar.add(file, arcname=file.relative_to(bundle_copy).as_posix())
    result = run_cli("run", str(big), "--frames", "1", env={"EDGESLIM_MAX_BUNDLE_BYTES": "1000",
                                                             "EDGESLIM_CACHE": str(tmp_path / "cache")})
    _one_line(result, "EDGESLIM_MAX_BUNDLE_BYTES")
    assert run_cli("run", str(big), "--frames", "1", env={"EDGESLIM_CACHE": str(tmp_path / "cache")}).returncode == 0
    zipped = tmp_path / "zipped.tar.gz"
    with tarfile.open(zipped, "w:gz") as tar:
        tar.add(bundle_copy / "manifest.json", arcname="manifest.json")
    _one_line(run_cli("run", str(zipped), "--frames", "1"), "neither a bundle directory nor a bundle .tar")


def test_a_relabelled_run_weight_is_refused_before_export(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    data = (run / "model.safetensors").read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    header["stem.0.weight"]["dtype"] = "I32"
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    (run / "model.safetensors").write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length:])
    _one_line(run_cli("build", str(run), "--target", "x86-emu", "--out", str(tmp_path / "b")),
              "tensor 'stem.0.weight' is int32")
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()


def test_output_paths_are_checked(bundle_copy, tmp_path):
    (tmp_path / "file").write_text("x")
    _one_line(run_cli("unpack", str(bundle_copy), "--out", str(tmp_path / "file" / "out")), "is a file, not a folder")
    _one_line(run_cli("simulate", str(bundle_copy), "--trace", "throttling-ramp", "--plot", "/nonexistent-dir/x.png"),
              "the folder /nonexistent-dir does not exist")


def test_a_csv_meter_over_a_socket_reads_whole_lines():
    from edgeslim.device.telemetry import CsvPowerMeter, Reading

    server = socket.create_server(("127.0.0.1", 0))
    url = f"socket://127.0.0.1:{server.getsockname()[1]}"
    opened, sent = threading.Event(), threading.Event()

    def serve():
        conn, _ = server.accept()
        opened.wait(10)  # pyserial drops what arrived while it opened the port
        conn.sendall(b"5.00,400.0,2000.0\r\n" * 5)
        sent.set()
        conn.recv(1)  # keep the connection open until the test closes it
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    meter = CsvPowerMeter(url)
    port = meter.port()
    opened.set()
    sent.wait(10)
    for _ in range(1000):  # until the lines have arrived
        if port.in_waiting:
            break
        threading.Event().wait(0.01)
    reading = meter.read()
    meter.close()
    server.close()
    assert reading == Reading(power_w=2.0)  # whole lines in one poll, not a byte per poll


@pytest.mark.slow
def test_the_device_side_on_an_emulated_arm64_matches_x86(tiny_bundle):
    """Open, every width, profile, simulate and the Pi demo under qemu-user (aarch64 Python and wheels)."""
    import os

    import arm64_report

    if not (arm64_report.ARM64 / ".ready").is_file() or not shutil.which("qemu-aarch64-static"):
        if os.environ.get("CI"):
            pytest.fail("no emulated ARM64 environment: `make arm64-env` prepares it")
        pytest.skip("no emulated ARM64 environment (bash .ci/arm64-env prepares it)")
    x86 = arm64_report.device_check([device_python()], tiny_bundle)
    arm = arm64_report.device_check(arm64_report.arm64_python(), tiny_bundle)
    assert arm["machine"] == "aarch64" and x86["machine"] == "x86_64"
    for row in arm64_report.compare(x86, arm):
        assert row["max_abs_diff"] <= 1e-5 * max(1.0, row["logit_scale"]) and row["top1_x86"] == row["top1_arm64"], row
    assert arm["demo_exit"] == 0 and arm["demo_frames"] > 0
    assert sorted(arm["profile_p50_ms"]) == sorted(arm["widths"]) and set(arm["simulate"]) == {
        "throttling-ramp", "battery-drain"}


def test_simulate_takes_a_profile_whose_latencies_do_not_grow_with_width():
    import edgeslim
    from edgeslim.device.simulate import SimulationOptions, replay

    widths = [{"name": f"w{i}", "mflops": float(i), "top1": 90.0, "p50_ms": p, "samples_ms": [p] * 20}
              for i, p in enumerate((0.3, 0.2, 0.5, 0.4), 1)]
    profile = {"device": "loaded", "backend": "tflite", "widths": widths}  # measured on a loaded machine
    result = replay(profile, {}, "throttling-ramp", SimulationOptions())
    assert set(result["policies"]) == {"controller", "oracle", "always largest", "always smallest"}
    assert edgeslim.SimulationOptions(slo_ms=5).slo_ms == 5
