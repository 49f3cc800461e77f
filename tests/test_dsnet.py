"""DS-Net++ gated width: the split, stage I bootstrapping, stage II gate training, the gated bundle and runtime."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from conftest import device_python, run_cli, train_killed_after

from edgeslim.errors import EdgeslimError
from edgeslim.host.gate.routing import (RouteCache, cascade_metrics, cascade_route, cascade_thresholds, route,
                                        routed_metrics, train_head, width_targets)
from edgeslim.host.gate.split import split_at
from edgeslim.host.models import build_supernet
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.subnets import SubnetConfig


@pytest.mark.parametrize("model,shape", [("resnet20", (1, 8, 8)), ("resnet18", (3, 32, 32)),
                                         ("mobilenetv2", (3, 16, 16))])
def test_split_halves_compose_to_the_network(model, shape):
    supernet = build_supernet(model, shape, 10).eval()
    prefix, rest = split_at(supernet.net, "blocks.1")
    x = torch.randn(2, *shape)
    assert torch.equal(rest(prefix(x)), supernet.net(x))
    assert prefix(x).shape[1] == (64 if model == "resnet18" else 16)
    with pytest.raises(EdgeslimError, match="no module 'blocks.99'"):
        split_at(supernet.net, "blocks.99")


def test_gate_keeps_the_shared_part_full_and_follows_the_config():
    supernet = build_supernet("resnet20", (1, 8, 8), 10)
    supernet.attach_gate("blocks.1", 4)
    fixed = supernet.fixed_groups()
    space = supernet.space
    narrow = space.uniform(0.25)
    assert fixed and all(narrow.channels[g] == supernet.space.group(g).channels for g in fixed)
    assert any(narrow.channels[g.name] < g.channels for g in supernet.space.groups)
    slimmed = SubnetConfig("bad", {**narrow.channels, sorted(fixed)[0]: 4})
    with pytest.raises(EdgeslimError, match="runs before the gate"):
        space.validate(slimmed)
    supernet.eval()
    supernet.set_config(narrow)
    x = torch.randn(2, 1, 8, 8)
    prefix, rest = supernet.halves()
    assert torch.allclose(supernet(x), rest(supernet.gate.attend(prefix(x))[0]))


def test_ema_teacher_follows_the_live_weights():
    supernet = build_supernet("resnet20", (1, 8, 8), 10)
    supernet.attach_gate("blocks.1", 4)
    teacher = EmaTeacher(supernet, 0.5, supernet.space.largest())
    live = next(supernet.parameters())
    ema = next(teacher.model.parameters())
    before = ema.detach().clone()
    with torch.no_grad():
        live.add_(1.0)
    teacher.update(supernet)  # warm-up: the first update uses decay min(0.5, 1/10)
    assert torch.allclose(ema, before + 0.9)
    teacher.updates = 1000
    with torch.no_grad():
        live.add_(1.0)
    teacher.update(supernet)  # later, the configured decay: halfway from ema to live
    assert torch.allclose(ema, before + 0.9 + 0.5 * 1.1, atol=1e-6)
    probs = teacher(torch.randn(4, 1, 8, 8))
    assert probs.shape == (4, 10) and torch.allclose(probs.sum(1), torch.ones(4))


def _synthetic_cache(n: int = 600, seed: int = 0) -> RouteCache:
    """Two widths; the narrow one is wrong exactly where hidden[:, 0] > 0.5, the wide one always right."""
    rng = np.random.default_rng(seed)
    hidden = torch.from_numpy(rng.random((n, 8)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, 3, n))
    right = torch.nn.functional.one_hot(labels, 3).float() * 5
    wrong = torch.nn.functional.one_hot((labels + 1) % 3, 3).float() * 5
    narrow = torch.where((hidden[:, 0] > 0.5)[:, None], wrong, right)
    return RouteCache(hidden, torch.stack([narrow, right], 1), labels)


def test_gate_learns_hard_inputs_and_complexity_weight_moves_the_tradeoff():
    cache = _synthetic_cache()
    assert width_targets(cache).tolist() == [1 if h > 0.5 else 0 for h in cache.hidden[:, 0].tolist()]
    supernet = build_supernet("resnet20", (1, 8, 8), 3)
    gate = supernet.attach_gate("blocks.1", 2, hidden=8)
    assert gate.hidden == 8
    macs = np.array([1e6, 4e6])
    results = {}
    for weight in (0.0, 8.0):
        name = train_head(supernet, cache, macs, weight, epochs=60)
        results[weight] = routed_metrics(cache, route(supernet, cache, name), macs)
    assert results[0.0]["top1"] > 90  # routes the hard half to the wide width
    assert results[8.0]["mflops"] < results[0.0]["mflops"]  # a heavier complexity term picks narrower widths
    capped = route(supernet, cache, "c0", cap=0)
    assert (capped == 0).all()


def test_width_target_is_the_narrowest_width_that_is_right():
    labels = torch.tensor([0, 1, 2, 0])
    right, wrong = torch.eye(3) * 5, torch.eye(3).roll(1, 1) * 5
    per_image = [[right[0], right[0], right[0]],    # all right: the narrowest
                 [wrong[1], right[1], wrong[1]],    # only the middle width is right
                 [wrong[2], wrong[2], right[2]],    # only the widest
                 [wrong[0], wrong[0], wrong[0]]]    # none: the widest
    cache = RouteCache(torch.zeros(4, 8), torch.stack([torch.stack(w) for w in per_image]), labels)
    assert width_targets(cache).tolist() == [0, 1, 2, 2]


def test_cascade_escalates_the_least_confident_share():
    n = 400  # the narrow width: right and sure on the first half, wrong and unsure (distinct confidences) after
    labels = torch.arange(n) % 3
    sure = torch.nn.functional.one_hot(labels[: n // 2], 3).float() * 6
    unsure = torch.nn.functional.one_hot((labels[n // 2:] + 1) % 3, 3).float() * torch.linspace(0.1, 1, n // 2)[:, None]
    wide = torch.nn.functional.one_hot(labels, 3).float() * 5
    cache = RouteCache(torch.zeros(n, 4), torch.stack([torch.cat([sure, unsure]), wide], 1), labels)
    quarter, half = cascade_thresholds(cache, (0.25, 0.5))
    assert quarter < half
    macs = np.array([1e6, 4e6])
    chosen = cascade_route(cache, quarter, wide=1)
    assert (chosen[: n // 2] == 0).all() and chosen.sum() == n // 4  # only unsure images escalate
    assert cascade_metrics(cache, chosen, macs, shared=500_000) == {"top1": 75.0, "mflops": 1.875, "escalated": 0.25}
    assert cascade_metrics(cache, cascade_route(cache, half, wide=1), macs, 500_000)["top1"] == 100.0


def test_dsnet_train_and_eval_report_gated_routing(dsnet_run, cli):
    info = json.loads((dsnet_run / "run.json").read_text())
    gate = info["gate"]
    assert info["method"] == "dsnet" and gate["before"] == "blocks.1"
    assert [h["name"] for h in gate["heads"]] == ["c0", "c0p5"] and gate["default"] in ("c0", "c0p5")
    assert gate["widths"] == ["w025", "w050", "w075", "w100"]
    mflops = {c["name"]: c["meta"]["mflops"] for c in info["configs"]}
    for head in gate["heads"]:
        assert mflops["w025"] <= head["mflops"] <= mflops["w100"] and abs(sum(head["share"]) - 1) < 0.01
    cascade = gate["cascade"]
    assert len(cascade["shares"]) == len(cascade["thresholds"]) == 19 and cascade["to"] == "w100"
    assert cascade["thresholds"] == sorted(cascade["thresholds"]) and cascade["default"] in (0.1, 0.2, 0.3, 0.5)
    points = cascade["points"]
    assert [p["share"] for p in points] == [0.1, 0.2, 0.3, 0.5]
    assert all(abs(p["held_out"]["escalated"] - p["share"]) <= 0.02 for p in points)  # calibrated on held-out
    assert mflops["w025"] < points[0]["mflops"] < points[-1]["mflops"] < mflops["w100"]
    result = cli("eval", str(dsnet_run), "--json", "--widths", "0.6")
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(result.stdout)
    assert [r["name"] for r in evaluated["gated"]] == ["gate c0", "gate c0p5", "cascade 10%", "cascade 20%",
                                                        "cascade 30%", "cascade 50%"]
    extra = evaluated["configs"][-1]  # an extra width keeps the part before the gate full
    assert extra["name"] == "w060" and extra["channels"]["stem.0"] == 16
    assert [r["top1"] for r in evaluated["gated"]] == [h["top1"] for h in gate["heads"]] + [p["top1"] for p in points]


def test_gated_bundle_validates_and_stores_weights_once(dsnet_bundle):
    manifest = json.loads((dsnet_bundle / "manifest.json").read_text())
    assert manifest["gate"]["entry"] == "gate" and manifest["gate"]["widths"] == ["w025", "w050", "w075", "w100"]
    rows = manifest["validation"]["rows"]
    gate_rows = [r for r in rows if r["width"] == "gate"]
    cascade_rows = [r for r in rows if r["width"] == "cascade"]
    assert {r["backend"] for r in gate_rows} == {"tflite", "executorch", "coreml"} and all(r["ok"] for r in rows)
    assert {r["backend"] for r in cascade_rows} == {"tflite", "executorch"}  # Core ML is checked by its spec
    assert all(r["top1_agreement"] == 100.0 for r in gate_rows + cascade_rows if "top1_agreement" in r)
    for backend in ("tflite", "executorch"):
        artifact = manifest["artifacts"][backend]
        assert artifact["stored_bytes"] < 0.2 * artifact["bytes"]  # weights come from the blob


def test_gated_int8_is_refused_in_one_line(dsnet_run, tmp_path, cli):
    result = cli("build", str(dsnet_run), "--target", "x86-emu", "--precision", "int8", "--out", str(tmp_path / "b"))
    assert result.returncode != 0 and "not supported for gated" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b").exists()


DEVICE_SCRIPT = r"""
import json, sys
import numpy as np
from edgeslim.device.runtime import DynamicModel
assert "torch" not in sys.modules
model = DynamicModel.open(sys.argv[1], backend="tflite")
samples = np.load(f"{sys.argv[1]}/samples.npz")
pre = model.bundle.manifest["input"]["preprocessing"]
x = ((samples["x"] - np.array(pre["mean"])[:, None, None]) / np.array(pre["std"])[:, None, None]).astype(np.float32)
chosen = []
for image in x:
    model(image[None]); chosen.append(model.last_width)
model.set_width("w025")
capped = set()
for image in x[:16]:
    model(image[None]); capped.add(model.last_width)
model.set_routing("fixed"); model.set_width("w075"); model(x[:1])
print(json.dumps({"routing_widths": sorted(set(chosen)), "capped": sorted(capped), "fixed": model.last_width,
                  "gate_ms": model.last_gate_ms, "ms": model.last_ms, "torch": "torch" in sys.modules}))
"""


def test_gated_bundle_runs_on_the_torch_free_device_with_a_cap(dsnet_bundle):
    result = subprocess.run([device_python(), "-c", DEVICE_SCRIPT, str(dsnet_bundle)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out["routing_widths"]) <= {"w025", "w050", "w075", "w100"}
    assert out["capped"] == ["w025"] and out["fixed"] == "w075" and not out["torch"]
    assert 0 < out["gate_ms"] < out["ms"]


CASCADE_SCRIPT = r"""
import json, sys
import numpy as np
from edgeslim.device.runtime import DynamicModel
model = DynamicModel.open(sys.argv[1], backend="tflite")
samples = np.load(f"{sys.argv[1]}/samples.npz")
pre = model.bundle.manifest["input"]["preprocessing"]
x = ((samples["x"] - np.array(pre["mean"])[:, None, None]) / np.array(pre["std"])[:, None, None]).astype(np.float32)
model.set_routing("fixed")
fixed = {}
for width in ("w025", "w100"):
    model.set_width(width)
    fixed[width] = model(x)
confidence = 1 / np.exp(fixed["w025"] - fixed["w025"].max(1, keepdims=True)).sum(1)
used = {}
for escalate in (0.0, 0.5, 1.0):
    model.set_routing("cascade", escalate=escalate)
    widths, diffs = [], []
    for image, c in zip(x, confidence):
        logits = model(image[None])
        widths.append(model.last_width)
        diffs.append(float(np.abs(logits - fixed[model.last_width][len(widths) - 1]).max()))
    used[str(escalate)] = {"widths": widths, "max_diff": max(diffs),
                           "unsure": [bool(c < model.threshold) for c in confidence]}
model.set_width("w025")
model(x[:1])
print(json.dumps({"used": used, "capped": model.last_width, "images": len(x)}))
"""


def test_cascade_runs_the_narrowest_width_and_escalates_the_unsure_on_the_device(dsnet_bundle):
    result = subprocess.run([device_python(), "-c", CASCADE_SCRIPT, str(dsnet_bundle)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    used = out["used"]
    assert set(used["0.0"]["widths"]) == {"w025"} and set(used["1.0"]["widths"]) == {"w100"}
    half = used["0.5"]
    assert half["widths"] == ["w100" if unsure else "w025" for unsure in half["unsure"]]
    assert 0.2 < half["widths"].count("w100") / out["images"] < 0.8  # thresholds calibrated on held-out images
    assert all(u["max_diff"] < 1e-5 for u in used.values())  # the logits of the width that ran
    assert out["capped"] == "w025"


def test_a_cascade_manifest_out_of_order_is_refused(dsnet_bundle, tmp_path, cli):
    broken = tmp_path / "bundle"
    shutil.copytree(dsnet_bundle, broken, ignore=shutil.ignore_patterns("profiles"))
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["gate"]["cascade"]["thresholds"].reverse()
    (broken / "manifest.json").write_text(json.dumps(manifest))
    result = cli("run", str(broken), "--frames", "1", "--backend", "tflite")
    assert result.returncode == 2 and "gate cascade: shares must rise" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_killed_dsnet_run_resumes_to_the_same_weights_and_gate(tmp_path):
    args = ["--method", "dsnet", "--epochs", "3", "--calib-samples", "128", "--complexity-weights", "0,1"]
    reference = run_cli("train", *args, "--out", str(tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "killed"
    train_killed_after(args, out, epoch=1)
    resumed = run_cli("train", *args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    from safetensors.torch import load_file

    a, b = load_file(tmp_path / "ref" / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("gate.heads.") for k in a)
    for key in a:
        assert (a[key] - b[key]).abs().max() <= 1e-5, key


def test_run_routes_with_the_chosen_gate_head_or_fixed(dsnet_bundle, cli):
    summaries = {}
    for extra in ([], ["--routing", "fixed"], ["--gate-head", "c0p5"], ["--routing", "cascade", "--escalate", "0.3"]):
        # an SLO no frame of this tiny model can miss, so the controller never steps down: routing alone decides
        result = cli("run", str(dsnet_bundle), "--backend", "tflite", "--frames", "64", "--slo-ms", "60000",
                     "--json", *extra)
        assert result.returncode == 0, result.stderr
        summaries[" ".join(extra)] = json.loads(result.stdout)
    assert summaries["--routing fixed"]["time_per_width_pct"]["w100"] == 100.0  # the controller's width, no gate
    cascade = summaries["--routing cascade --escalate 0.3"]
    assert cascade["routing"] == "cascade" and cascade["time_per_width_pct"]["w025"] > 0
    assert cascade["time_per_width_pct"]["w050"] == cascade["time_per_width_pct"]["w075"] == 0
    for summary in summaries.values():
        assert summary["frames"] == 64 and abs(sum(summary["time_per_width_pct"].values()) - 100) < 0.5
    bad = cli("run", str(dsnet_bundle), "--frames", "4", "--gate-head", "c9")
    assert bad.returncode != 0 and "unknown gate head 'c9'" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("run", str(dsnet_bundle), "--frames", "4", "--escalate", "0.3")
    assert bad.returncode != 0 and "only --routing cascade escalates" in bad.stderr and "Traceback" not in bad.stderr
