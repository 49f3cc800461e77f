"""The Python API: the README quickstart as written, lazy imports, options checked without being changed, and
an nn.Module trained directly."""

import re
import subprocess
import sys

import pytest
from conftest import ROOT

import edgeslim
from edgeslim.errors import EdgeslimError


def readme_quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_quickstart_runs_as_written(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(readme_quickstart())
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["p025", "p050", "p075", "p100"]
    assert (tmp_path / "runs/quickstart/accuracy_vs_mflops.png").stat().st_size > 10_000
    p50 = eval(lines[4])  # the profile's p50 per width  # noqa: S307 (our own printed dict)
    assert sorted(p50) == ["p025", "p050", "p075", "p100"] and all(v > 0 for v in p50.values())
    controller = eval(lines[5])  # noqa: S307
    assert 0 <= controller["miss_rate_pct"] <= 100 and sum(controller["time_per_width_pct"].values()) > 99
    predicted, label = map(int, lines[6].split())
    assert 0 <= predicted < 10 and 0 <= label < 10
    assert "✓ bundle x86-emu saved to" in result.stderr and "✓ TFLite .tflite saved to" in result.stderr


def test_import_edgeslim_loads_no_host_module():
    code = ("import sys, edgeslim; names = dir(edgeslim); "
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'edgeslim.host', 'numpy'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert {"train", "search", "build", "profile", "simulate", "DynamicModel", "Run"} <= set(edgeslim.__all__)
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        edgeslim.trian  # noqa: B018


def test_options_are_checked_on_construction_and_never_changed():
    options = edgeslim.TrainOptions(method="dsnet")
    assert options.val_fraction is None and options.teacher is None  # the method's defaults are derived
    assert options.holdout == 0.15 and options.distill == "ema"
    assert edgeslim.TrainOptions(method="usnet").distill == "ema"  # bench/reports/pss_cifar10.md
    assert edgeslim.TrainOptions(method="pss").distill == "ema"  # the search's, after the full network alone
    assert edgeslim.TrainOptions(method="single").distill == "live"  # one width, from the labels
    assert edgeslim.TrainOptions(method="pss").holdout == edgeslim.SearchOptions().holdout_fraction
    assert edgeslim.TrainOptions(method="pss", epochs=10).supernet_epochs == 4  # 60 % joint training
    with pytest.raises(Exception, match="cannot assign"):
        options.epochs = 3
    cases = [({"method": "pss", "epochs": 1}, "leaves no supernet training"),
             ({"widths": (0.5, 1.5)}, "fractions in (0, 1]"),
             ({"widths": "0.5,1"}, "expected a list of numbers"),
             ({"model": "resnet21"}, "did you mean resnet20"),
             ({"teacher": "ema", "ema_decay": 1.5}, "--ema-decay must be in (0, 1)")]
    for fields, message in cases:
        with pytest.raises(EdgeslimError, match=re.escape(message)):
            edgeslim.TrainOptions(**fields)
    with pytest.raises(EdgeslimError, match="unknown option of TrainOptions 'epoch'"):
        edgeslim.train(epoch=3)
    with pytest.raises(EdgeslimError, match="fractions must be in"):
        edgeslim.SearchOptions(budgets=(0.5, 2.0))
    with pytest.raises(EdgeslimError, match="at least 5 timed runs"):
        edgeslim.ProfileOptions(runs=2)
    with pytest.raises(EdgeslimError, match="unknown backend 'onnx'"):
        edgeslim.BuildOptions(backends=("onnx",))


def test_a_users_nn_module_trains_and_reloads_in_the_same_process(tmp_path):
    from torch import nn

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                          nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            return self.fc(self.features(x))

    run = edgeslim.train(model=TinyNet(), data="digits", epochs=1, calib_samples=128, out=tmp_path / "tiny",
                         show_progress=False)
    assert run.info["model"] == "TinyNet" and [c.name for c in run.configs] == ["w025", "w050", "w075", "w100"]
    rows = run.evaluate()
    assert [r["name"] for r in rows] == ["w025", "w050", "w075", "w100"]
    assert rows[0]["mflops"] < rows[-1]["mflops"]
    assert [r["top1"] for r in rows] == [c["meta"]["top1"] for c in run.info["configs"]]
    assert edgeslim.load_run(run.path).info["configs"] == run.info["configs"]

    from edgeslim.host.models import build_supernet

    with pytest.raises(EdgeslimError, match=r"TinyNet gives outputs of shape \(1, 10\); the data has 7 classes"):
        build_supernet(TinyNet(), (1, 8, 8), 7)
    with pytest.raises(EdgeslimError, match=r"TinyNet does not take \(3, 8, 8\) inputs"):
        build_supernet(TinyNet(), (3, 8, 8), 10)
