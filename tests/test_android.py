"""The Android library (android/, Java 17): compiled with javac and run with JUnit 5 here, against real bundles.

Cross-language checks: the Java assembler must write byte-identical artifacts to the Python device side for every
backend of several bundles (models, widths, fp32 / int8, NCHW / NHWC, gated), and the Java controller must decide
as the Python one at every step of replays of the shipped traces. Needs a JDK and Debian's junit5
(``apt-get install default-jdk-headless junit5``); skipped with that reason elsewhere, an error in CI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cli

from edgeslim.device.bundle import open_bundle
from edgeslim.device.bundle.manifest import sha256_of
from edgeslim.device.profile import profile

sys.path.insert(0, str(ROOT / "bench"))
import android_report  # noqa: E402 (the bench's Java build, JUnit run and conformance scenarios)

JUNIT = android_report.JUNIT


@pytest.fixture(scope="session")
def java_classes(tmp_path_factory) -> Path:
    """The library and its JUnit tests compiled (``-Xlint:all -Werror``) into one classes folder."""
    missing = [what for what, ok in (("javac", shutil.which("javac")), ("java", shutil.which("java")),
                                     (str(JUNIT), JUNIT.is_file())) if not ok]
    if missing:
        reason = f"no {', '.join(missing)}: apt-get install default-jdk-headless junit5 (make java-env)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    return android_report.compile_java(tmp_path_factory.mktemp("java") / "classes")


@pytest.fixture(scope="module")
def int8_android_bundle(tiny_run, tmp_path_factory) -> Path:
    """``tiny_run`` for android-arm64 in int8: ExecuTorch and TFLite stored whole (quantized), TFLite NHWC."""
    out = tmp_path_factory.mktemp("android") / "int8"
    result = run_cli("build", str(tiny_run), "--target", "android-arm64", "--precision", "int8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def mobilenet_android_bundle(tmp_path_factory) -> Path:
    """A MobileNetV3-Small run (2 epochs) built for android-arm64: fp32, TFLite NHWC (depthwise convs: IHWO holes;
    squeeze-and-excitation)."""
    folder = tmp_path_factory.mktemp("mobilenet")
    result = run_cli("train", "--model", "mobilenetv3_small", "--data", "digits", "--method", "usnet", "--epochs", "2",
                     "--out", str(folder / "run"))
    assert result.returncode == 0, result.stderr
    result = run_cli("build", str(folder / "run"), "--target", "android-arm64", "--out", str(folder / "bundle"))
    assert result.returncode == 0, result.stderr
    return folder / "bundle"


@pytest.fixture(scope="module")
def reach_bundle(tmp_path_factory) -> Path:
    """tests/models/reach.py (concat, grouped conv, squeeze-and-excitation) for all three backends: its recipes
    gather the segments a concat leaves."""
    folder = tmp_path_factory.mktemp("reach")
    model = Path(__file__).parent / "models" / "reach.py"
    result = run_cli("train", "--model", f"{model}:reach", "--data", "digits", "--method", "usnet", "--epochs", "2",
                     "--out", str(folder / "run"))
    assert result.returncode == 0, result.stderr
    result = run_cli("build", str(folder / "run"), "--target", "x86-emu", "--out", str(folder / "bundle"))
    assert result.returncode == 0, result.stderr
    return folder / "bundle"


def java_assemble(classes: Path, bundle: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-cp", str(classes), "dev.edgeslim.Assemble", str(bundle), str(out)],
                          capture_output=True, text=True, timeout=300)


def test_java_assembles_every_artifact_byte_identical_to_python(java_classes, tiny_bundle, dsnet_bundle,
                                                                int8_android_bundle, mobilenet_android_bundle,
                                                                reach_bundle, tmp_path):
    compared = []
    for bundle_path in (tiny_bundle, dsnet_bundle, int8_android_bundle, mobilenet_android_bundle, reach_bundle):
        out = tmp_path / bundle_path.parent.name / bundle_path.name
        result = java_assemble(java_classes, bundle_path, out)
        assert result.returncode == 0, result.stderr
        bundle = open_bundle(bundle_path)
        for backend, entry in bundle.spec.artifacts.items():
            written = out / entry.file
            if written.is_dir():  # Core ML: stored whole, a folder
                ours, python = sha256_of(written), sha256_of(bundle.artifact_path(backend))
            else:
                ours = hashlib.sha256(written.read_bytes()).hexdigest()
                python = hashlib.sha256(bundle.artifact_bytes(backend)).hexdigest()
            assert ours == python == entry.sha256, (bundle_path, backend)
            compared.append((bundle_path.name, backend, entry.precision, len(entry.holes)))
        assert sorted(p.name for p in out.iterdir()) == sorted(e.file for e in bundle.spec.artifacts.values())
    assert len(compared) == 13
    assert {c[2] for c in compared} == {"fp32", "int8"} and sum(c[3] > 0 for c in compared) == 8
    gathered = [r for r in open_bundle(reach_bundle).manifest["tensors"].values() if "rows" in r or "cols" in r]
    assert gathered  # Java reproduced the concat's gathers byte for byte
    reach = open_bundle(reach_bundle)  # Core ML shares them too: its functions slice and gather the full weights
    weights = reach.artifact_path("coreml") / "Data/com.apple.CoreML/weights/weight.bin"
    assert weights.stat().st_size <= 1.05 * reach.manifest["blob"]["bytes"]


def test_java_assemble_refuses_a_damaged_bundle_in_one_line(java_classes, bundle_copy, tmp_path):
    blob = bundle_copy / "weights.safetensors"
    blob.write_bytes(blob.read_bytes()[:-8])
    result = java_assemble(java_classes, bundle_copy, tmp_path / "out")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"edgeslim: {blob}:")
    assert "truncated or modified" in result.stderr and not (tmp_path / "out" / "model.pte").exists()


def test_java_unit_and_conformance_tests_pass(java_classes, bundle_copy, dsnet_bundle, tmp_path):
    profile(bundle_copy, backend="tflite", runs=30, warmup=5)
    steps = android_report.conformance_scenarios(bundle_copy, tmp_path / "scenarios")
    android_report.image_input_cases(tmp_path / "scenarios")
    decisions = android_report.gate_routing_cases(dsnet_bundle, tmp_path / "scenarios")
    result, suite = android_report.run_junit(java_classes, {"edgeslim.bundle": bundle_copy,
                                                            "edgeslim.conformance": tmp_path / "scenarios"},
                                             tmp_path / "reports")
    cases = {c.get("classname").rsplit(".", 1)[-1] for c in suite.iter("testcase")}
    names = {c.get("name") for c in suite.iter("testcase")}
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    assert result.returncode == 0 and counts["failures"] == counts["errors"] == 0, result.stdout + result.stderr
    assert counts["skipped"] == 0 and counts["tests"] >= 26, counts  # the bundle and conformance tests ran
    assert {"javaControllerDecidesAsPythonAtEveryStep()", "imageInputIsPythonsPreprocessing()",
            "javaGateRoutesAsPythonAtEveryInput()"} <= names
    assert {"BundleTest", "ConformanceTest", "WidthControllerTest", "RecipesTest", "JsonTest"} <= cases
    assert f"conformance total: {steps} steps identical" in result.stdout and steps == 4 * 18000
    assert f"gate routing: {decisions} decisions identical" in result.stdout and decisions > 0


def test_android_tflite_takes_nhwc_image_and_names_its_io(mobilenet_android_bundle):
    from ai_edge_litert.interpreter import Interpreter

    bundle = open_bundle(mobilenet_android_bundle)
    tflite, executorch = bundle.spec.artifacts["tflite"], bundle.spec.artifacts["executorch"]
    assert tflite.layout == "NHWC" and executorch.layout == "NCHW"
    assert {e: (io.input, io.outputs) for e, io in tflite.io.items()} == {w: ("image", ["logits"])
                                                                          for w in bundle.width_names}
    interpreter = Interpreter(model_content=bundle.artifact_bytes("tflite"))
    _, channels, height, width = bundle.spec.input.shape
    for name in bundle.width_names:
        runner = interpreter.get_signature_runner(name)
        (input_name, spec), = runner.get_input_details().items()
        assert input_name == "image" and list(spec["shape"]) == [1, height, width, channels]
        assert list(runner.get_output_details()) == ["logits"]
    rows = bundle.manifest["validation"]["rows"]  # both layouts checked against PyTorch at build
    assert {r["backend"] for r in rows} == {"tflite", "executorch"} and all(r["ok"] for r in rows)
    assert max(r["max_abs_diff"] for r in rows) < 1e-4


def test_nhwc_and_nchw_tflite_give_the_same_logits(mobilenet_android_bundle, tmp_path, cli):
    from edgeslim.device.runtime import DynamicModel

    run = open_bundle(mobilenet_android_bundle).manifest["model"]["run"]
    nchw = tmp_path / "nchw"
    result = cli("build", run, "--target", "android-arm64", "--backends", "tflite", "--input-layout", "NCHW",
                 "--out", str(nchw))
    assert result.returncode == 0, result.stderr
    assert "NCHW input" in result.stderr and open_bundle(nchw).spec.artifacts["tflite"].layout == "NCHW"
    a, b = DynamicModel.open(mobilenet_android_bundle, "tflite"), DynamicModel.open(nchw, "tflite")
    x, _ = a.bundle.samples()
    for width in a.widths:
        a.set_width(width)
        b.set_width(width)
        assert np.abs(a.predict(x[:8]) - b.predict(x[:8])).max() < 1e-4
