import os
import subprocess
import sys

import pytest
from conftest import ROOT

from edgeslim.errors import EdgeslimError
from edgeslim.resources import data_dir


def test_data_folders_are_found_in_the_checkout():
    assert (data_dir("targets") / "README.md").is_file()
    assert (data_dir("calibration") / "README.md").is_file()


def test_missing_folder_names_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGESLIM_HOME", str(tmp_path))
    with pytest.raises(EdgeslimError, match="cannot find the edgeslim 'nope' folder"):
        data_dir("nope")


def test_an_installed_wheel_finds_its_data_folders(tmp_path):
    wheels, prefix = tmp_path / "wheels", tmp_path / "prefix"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    wheel = next(wheels.glob("edgeslim-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel)],
                   check=True, capture_output=True)  # --ignore-installed: leave this environment's edgeslim alone
    site = next(prefix.glob("lib/python*/site-packages"))
    code = ("import edgeslim, edgeslim.resources as r; "
            "print(edgeslim.__file__); print(r.data_dir('targets')); print(r.data_dir('calibration'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    package, targets, calibration = result.stdout.split()
    assert package.startswith(str(site))
    assert targets == str(prefix / "share" / "edgeslim" / "targets")
    assert calibration == str(prefix / "share" / "edgeslim" / "calibration")
