"""Accuracy-vs-MFLOPs plots (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from edgeslim.files import output_file


def plot_accuracy(curves: dict[str, list[dict]], path: Path, title: str) -> Path:
    """One line per method: rows with ``mflops`` and ``top1`` (and optional ``name`` labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, rows in curves.items():
        rows = sorted(rows, key=lambda r: r["mflops"])
        ax.plot([r["mflops"] for r in rows], [r["top1"] for r in rows], marker="o", label=label)
        if len(curves) == 1:
            for r in rows:
                ax.annotate(r.get("name", ""), (r["mflops"], r["top1"]), textcoords="offset points", xytext=(4, -10),
                            fontsize=8)
    ax.set_xlabel("MFLOPs (multiply-accumulates, millions)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = output_file(path, "--plot")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_curves(run, rows: list[dict]) -> dict[str, list[dict]]:
    """The curves of ``run``'s accuracy plot from its width-table ``rows``: the shipped configurations, a gate's
    heads (rows with ``share``), extra widths evaluated on the fly, the uniform widths measured before a search."""
    shipped = [r for r in rows if "share" not in r and not r.get("extra")]
    gated = [r for r in rows if "share" in r]
    extra = [r for r in rows if r.get("extra")]
    curves = {run.info["method"] + (" static widths" if gated else " (shipped)"): shipped}
    if gated:
        curves["gate (input-dependent width)"] = gated
    if extra:
        curves["extra widths (BN recalibrated)"] = extra
    if run.info.get("before_search"):  # the uniform widths as measured before the search changed the weights
        curves["uniform widths before the search and joint training"] = [
            {"name": c["name"], **c["meta"]} for c in run.info["before_search"]]
    return curves


def plot_run(run, path: Path, rows: list[dict], data: str | None = None) -> Path:
    """``run``'s accuracy-vs-MFLOPs plot from its width-table ``rows``."""
    dataset = data or run.info["dataset"]
    return plot_accuracy(run_curves(run, rows), path, f"{run.info['model']} on {dataset}: accuracy vs MFLOPs")
