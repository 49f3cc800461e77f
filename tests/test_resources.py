import pytest

from edgeslim.errors import EdgeslimError
from edgeslim.resources import data_dir


def test_data_folders_are_found_in_the_checkout():
    assert (data_dir("targets") / "README.md").is_file()
    assert (data_dir("calibration") / "README.md").is_file()


def test_missing_folder_names_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGESLIM_HOME", str(tmp_path))
    with pytest.raises(EdgeslimError, match="cannot find the edgeslim 'nope' folder"):
        data_dir("nope")
