"""Two CPU processes under torchrun (gloo): training runs and the replicas stay equal."""

import json
import os
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_keep_replicas_equal(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "edgeslim", "train", "--model", "resnet20", "--data", "digits",
           "--epochs", "1", "--batch-size", "128", "--calib-samples", "256", "--out", str(out), "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["world_size"] == 2
    assert summary["replica_max_abs_diff"] == 0.0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["world_size"] == 2
    assert len(info["configs"]) == 4
