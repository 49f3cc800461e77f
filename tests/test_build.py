"""`edgeslim build / validate / unpack`: real exporters (ExecuTorch XNNPACK, litert-torch, coremltools) and
real runtimes; corrupt bundles answered with one line; failed builds leave nothing behind."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import device_python, run_cli


def _manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text())


def test_bundle_holds_every_width_for_every_backend_with_weights_stored_once(tiny_bundle, tmp_path):
    manifest = _manifest(tiny_bundle)
    names = [w["name"] for w in manifest["widths"]]
    assert names == ["w025", "w050", "w075", "w100"]
    assert set(manifest["artifacts"]) == {"executorch", "tflite", "coreml"}
    for width in manifest["widths"]:
        assert width["mflops"] > 0 and width["params"] > 0 and "top1" in width
        for backend, entry in width["backends"].items():
            assert entry["entry"] == width["name"]
            assert entry["sha256"] == manifest["artifacts"][backend]["sha256"]
    assert manifest["validation"]["rows"] and all(r["ok"] for r in manifest["validation"]["rows"])

    unpacked = run_cli("unpack", str(tiny_bundle), "--out", str(tmp_path))
    assert unpacked.returncode == 0, unpacked.stderr
    blob = manifest["blob"]["bytes"]
    for backend in ("executorch", "tflite"):
        entry = manifest["artifacts"][backend]
        full = (tmp_path / entry["file"]).read_bytes()
        assert len(full) == entry["bytes"]
        # all widths in one plain artifact carry ~1.9x the full-width weights; the bundle stores them once
        assert entry["stored_bytes"] + blob < 0.6 * len(full), backend
        assert entry["stored_bytes"] < 0.05 * len(full), backend
    # Core ML: every function slices the same full-width constants, stored once in weight.bin
    weight_bin = tiny_bundle / "model.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    assert weight_bin.stat().st_size < 1.1 * blob


def test_artifacts_carry_their_own_metadata(tiny_bundle, tmp_path):
    assert run_cli("unpack", str(tiny_bundle), "--out", str(tmp_path)).returncode == 0
    from ai_edge_litert import schema_py_generated as schema
    from executorch.runtime import Runtime

    model = schema.ModelT.InitFromPackedBuf((tmp_path / "model.tflite").read_bytes(), 0)
    entry = next(m for m in model.metadata if m.name.decode() == "edgeslim")
    tflite_meta = json.loads(bytes(model.buffers[entry.buffer].data).decode())
    assert [w["name"] for w in tflite_meta["widths"]] == ["w025", "w050", "w075", "w100"]
    assert [s.signatureKey.decode() for s in model.signatureDefs] == ["w025", "w050", "w075", "w100"]

    program = Runtime.get().load_program(tmp_path / "model.pte")
    assert {"w025", "w050", "w075", "w100", "edgeslim_metadata"} <= set(program.method_names)
    et_meta = json.loads(program.load_method("edgeslim_metadata").execute([])[0])
    assert et_meta["widths"] == tflite_meta["widths"]

    import coremltools as ct

    spec = ct.utils.load_spec(str(tiny_bundle / "model.mlpackage"))
    assert sorted(f.name for f in spec.description.functions) == ["w025", "w050", "w075", "w100"]
    assert spec.description.defaultFunctionName == "w100"
    assert json.loads(spec.description.metadata.userDefined["edgeslim"])["model"] == "resnet20"


def test_validate_compares_every_width_with_pytorch(tiny_bundle):
    result = run_cli("validate", str(tiny_bundle), "--samples", "40", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    runnable = [r for r in rows if r["backend"] in ("executorch", "tflite")]
    assert len(runnable) == 8 and len([r for r in rows if r["backend"] == "coreml"]) == 4
    for r in runnable:
        assert r["max_abs_diff"] < 1e-4 and r["top1_agreement"] == 100.0 and r["top1"] == r["top1_pytorch"]
    assert all(r["spec_ok"] and r["convs"] > 0 and r["slices"] > 0 for r in rows
               if r["backend"] == "coreml" and r["width"] != "w100")


def test_device_env_runs_the_bundle_with_tflite_runtime_and_no_torch(tiny_bundle, tmp_path):
    from edgeslim.device.runtime import DynamicModel

    host = DynamicModel.open(tiny_bundle, backend="tflite")
    x = np.random.default_rng(0).standard_normal(host.input_shape).astype(np.float32)
    expected = {}
    for width in host.widths:
        host.set_width(width)
        expected[width] = host(x).tolist()
    code = """
import json, sys
import numpy as np
from edgeslim.device.runtime import DynamicModel
m = DynamicModel.open(sys.argv[1])
x = np.array(json.loads(sys.argv[2]), dtype=np.float32)
out = {}
for w in m.widths:
    m.set_width(w)
    out[w] = m(x).tolist()
print(json.dumps({"backend": m.backend, "torch": "torch" in sys.modules, "out": out}))
"""
    result = subprocess.run([device_python(), "-c", code, str(tiny_bundle), json.dumps(x.tolist())],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backend"] == "tflite" and report["torch"] is False
    for width, logits in expected.items():
        np.testing.assert_allclose(report["out"][width], logits, atol=1e-4)


def test_width_switch_changes_the_computation_without_reloading(tiny_bundle):
    from edgeslim.device.runtime import DynamicModel

    model = DynamicModel.open(tiny_bundle, backend="executorch")
    engine = model.engine
    x = np.random.default_rng(1).standard_normal(model.input_shape).astype(np.float32)
    outputs = []
    for width in model.widths:
        model.set_width(width)
        outputs.append(model(x))
    assert model.engine is engine
    assert all(not np.allclose(a, b) for a, b in zip(outputs, outputs[1:]))
    with pytest.raises(Exception, match="unknown width 'w05': did you mean"):
        model.set_width("w05")


@pytest.mark.parametrize("damage, message", [
    ("flip-blob", "weights.safetensors: sha256 does not match"),
    ("truncate-skeleton", "model.pte.skel: 1000 bytes, the manifest says"),
    ("remove-artifact", "model.tflite.skel: missing from the bundle"),
    ("manifest-not-json", "manifest.json: not valid JSON"),
    ("foreign", "not an edgeslim bundle"),
    ("wrong-artifact-hash", "does not match its sha256"),
])
def test_damaged_bundles_get_one_line(tiny_bundle, tmp_path, damage, message):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    if damage == "flip-blob":
        data = bytearray((bundle / "weights.safetensors").read_bytes())
        data[-100] ^= 0xFF
        (bundle / "weights.safetensors").write_bytes(bytes(data))
    elif damage == "truncate-skeleton":
        path = bundle / "model.pte.skel"
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "remove-artifact":
        (bundle / "model.tflite.skel").unlink()
    elif damage == "manifest-not-json":
        (bundle / "manifest.json").write_text("{oops")
    elif damage == "foreign":
        (bundle / "manifest.json").unlink()
    elif damage == "wrong-artifact-hash":
        manifest = _manifest(bundle)
        manifest["artifacts"]["tflite"]["sha256"] = "0" * 64
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("unpack", str(bundle), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_build_errors_are_one_line_and_leave_nothing_behind(tiny_run, tmp_path, monkeypatch):
    result = run_cli("build", str(tiny_run), "--target", "andriod-arm64", "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "did you mean android-arm64" in result.stderr
    result = run_cli("build", str(tiny_run), "--target", "x86-emu", "--precision", "int4", "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "unknown precision 'int4'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("build", str(tiny_run), "--target", "x86-emu", "--backends", "tflite,onnx")
    assert result.returncode == 2 and "unknown backend 'onnx'" in result.stderr

    from edgeslim.host.compile import BuildOptions, builder, exporters

    def broken_export(*args, **kwargs):
        raise RuntimeError("simulated exporter crash")

    monkeypatch.setattr(exporters, "export_tflite", broken_export)
    out = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated"):
        builder.build(tiny_run, BuildOptions(target="x86-emu", backends=("executorch", "tflite"), out=out,
                                             quiet=True))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_int8_build_quantizes_every_width_with_the_calibration_recipe(tiny_run, tmp_path):
    out = tmp_path / "int8"
    result = run_cli("build", str(tiny_run), "--target", "x86-emu", "--backends", "tflite", "--precision", "int8",
                     "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["artifacts"]["tflite"]["precision"] == "int8"
    assert "int8 top-1 drop" in result.stderr
    from ai_edge_litert.interpreter import Interpreter

    unpacked = tmp_path / "plain"
    assert run_cli("unpack", str(out), "--out", str(unpacked)).returncode == 0
    runner = Interpreter(model_path=str(unpacked / "model.tflite")).get_signature_runner("w050")
    assert next(iter(runner.get_input_details().values()))["dtype"] == np.int8
    validated = run_cli("validate", str(out), "--json")
    assert validated.returncode == 0, validated.stderr
    rows = json.loads(validated.stdout)["rows"]
    assert len(rows) == 4 and all(r["precision"] == "int8" and r["top1_agreement"] >= 90 for r in rows)
    assert all(abs(r["top1_drop"]) < 10 for r in rows)


def test_a_bundle_archive_opens_like_the_directory(tiny_bundle, tmp_path, monkeypatch):
    from edgeslim.device.bundle import BundleError, open_bundle
    from edgeslim.host.compile.builder import write_archive

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    archive = write_archive(bundle)
    monkeypatch.setenv("EDGESLIM_CACHE", str(tmp_path / "cache"))
    opened = open_bundle(archive)
    assert opened.width_names == ["w025", "w050", "w075", "w100"]
    assert opened.artifact_bytes("tflite")  # rebuilt and sha256-checked from the extracted copy
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[:5000])
    with pytest.raises(BundleError, match="truncated.tar"):
        open_bundle(truncated)
