"""The host side of the Python API: train, search, load and build runs (the CLI's commands call these)."""

from __future__ import annotations

from pathlib import Path

from edgeslim.device.bundle.manifest import Bundle, open_bundle
from edgeslim.host.compile.options import BuildOptions
from edgeslim.host.runs import Run, load_run
from edgeslim.host.search.options import SearchOptions
from edgeslim.host.train.options import TrainOptions
from edgeslim.options import with_fields


def train(options: TrainOptions | None = None, /, **fields) -> Run | None:
    """Train a slimmable supernet and return the finished run.

    >>> run = edgeslim.train(model="resnet20", data="digits", method="pss", epochs=30, out="runs/digits-pss")

    ``options``: a :class:`TrainOptions`; ``fields`` override any of its fields. ``method``: ``usnet`` (sandwich
    rule, in-place distillation), ``pss`` (usnet + progressive sub-net search + joint training; its search is
    ``search=SearchOptions(...)``), ``dsnet`` (DS-Net++ gate) or ``single``. ``model``: a built-in or registered
    name, ``path/to/file.py:function``, or a ``torch.nn.Module``; ``init``: pretrained weights to start from.
    Under torchrun, helper processes return None.
    """
    opts = with_fields(TrainOptions, options, fields)
    if opts.method == "pss":
        from edgeslim.host.search.pipeline import train_pss

        path, info = train_pss(opts)
    else:
        from edgeslim.host.train.loop import train_supernet

        path, info = train_supernet(opts)
    return load_run(path) if info.get("status") == "complete" else None


def search(run: Run | str | Path, options: SearchOptions | None = None, /, **fields) -> Run:
    """Progressive sub-net search on a trained run: noise ranking, progressive shrinking with fine-tunes,
    re-selection per budget and joint training; the kept sub-nets become the run's shipped configurations
    (the run directory is rewritten). ``fields`` override :class:`SearchOptions` (e.g. ``budgets=(0.5, 1.0)``)."""
    from edgeslim.host.search.pipeline import search as search_run

    opts = with_fields(SearchOptions, options, fields)
    path = run.path if isinstance(run, Run) else Path(run)
    search_run(path, opts)
    return load_run(path)


def build(run: Run | str | Path, options: BuildOptions | None = None, /, **fields) -> Bundle:
    """Every shipped width of ``run`` for the target's backends in one bundle (weights stored once), validated
    against PyTorch; returns the opened bundle. ``fields`` override :class:`BuildOptions`
    (``target="android-arm64"``, ``backends=("tflite",)``, ``precision="int8"``, ``out=...``)."""
    from edgeslim.host.compile.builder import build as build_bundle

    opts = with_fields(BuildOptions, options, fields)
    return open_bundle(build_bundle(run, opts))


__all__ = ["build", "load_run", "search", "train"]
