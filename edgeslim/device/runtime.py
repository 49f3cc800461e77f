"""The device runtime: open a bundle, run any width, switch width without reloading (torch-free).

>>> model = DynamicModel.open("bundle/", backend="tflite")
>>> model.widths                      # smallest first, e.g. ['w025', 'w050', 'w075', 'w100']
>>> model.set_width("w050")           # a dictionary lookup: every width was prepared at open
>>> scores = model.predict(image)     # a raw image (HxW[xC] uint8 or float in [0, 1]): class scores
>>> logits = model(x)                 # x: float32 (1, C, H, W), already preprocessed as the manifest says
>>> model.last_ms                     # latency of that call

A gated (DS-Net++) bundle runs every call as two programs: ``gate`` (the shared first layers, the attention and
the width heads), then the remainder of the chosen width. With ``routing="gate"`` (its default) the gate's
head picks the width per input and ``set_width`` only caps it (the controller's choice: heat, battery,
latency); with ``routing="cascade"`` every input runs the narrowest width's remainder and, when its top softmax
probability is below the threshold calibrated at training for the share ``escalate`` of inputs, the set width's
remainder on the same features; with ``routing="fixed"`` the set width always runs. ``last_width`` is the width
whose logits were returned.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgeslim.backends import BACKENDS, runnable_here
from edgeslim.device.bundle.manifest import Bundle, BundleError, open_bundle
from edgeslim.device.engines import default_threads
from edgeslim.device.preprocess import preprocess
from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.quiet import quiet

GATE = "gate"  # the engine entry of a gated bundle's first program
ROUTINGS = ("gate", "cascade", "fixed")


class DynamicModel:
    """A bundle loaded on one backend, all widths ready; ``width`` is the one ``__call__`` runs."""

    def __init__(self, bundle: Bundle, backend: str, threads: int):
        self.bundle, self.backend, self.threads = bundle, backend, threads
        entries = {w["name"]: w["backends"][backend]["entry"] for w in bundle.widths}
        self.gate = bundle.manifest.get("gate")
        if self.gate:
            entries[GATE] = self.gate["entry"]
            self._ladder = self.gate["widths"]
            self.head = [h["name"] for h in self.gate["heads"]].index(self.gate["default"])
        engine = BACKENDS[backend].load_engine()
        started = time.perf_counter()
        with quiet():
            engine.load_runtime()
        self.import_ms = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        data = bundle.artifact_bytes(backend)
        self.materialize_ms = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        self.widths = [w["name"] for w in sorted(bundle.widths, key=lambda w: w["mflops"])]
        self.first_run_ms: dict[str, float] = {}
        try:
            with quiet():  # interpreters log delegate and CPU-detection lines at load and first run
                artifact = bundle.spec.artifacts[backend]
                outputs = {w: artifact.io[e].outputs for w, e in entries.items() if e in artifact.io}
                takes_image = [GATE] if self.gate else self.widths
                channels_last = set(takes_image) if artifact.layout == "NHWC" else set()
                self.engine = engine(data, entries, threads, outputs, channels_last)
                self.init_ms = (time.perf_counter() - started) * 1e3
                self._check_inputs(entries)
                zeros = np.zeros(self.input_shape, np.float32)
                if self.gate:
                    first = time.perf_counter()
                    zeros = self.engine.run_all(GATE, zeros)[0]
                    self.first_run_ms[GATE] = (time.perf_counter() - first) * 1e3
                for width in self.widths:  # first runs (delegate set-up) happen here, not at the first switch
                    first = time.perf_counter()
                    self.engine.run(width, zeros)
                    self.first_run_ms[width] = (time.perf_counter() - first) * 1e3
        except (RuntimeError, ValueError) as exc:
            raise BundleError(f"{bundle.path}: the {backend} runtime cannot load this bundle ({exc})") from None
        self.width = self.widths[-1]
        self.routing = "gate" if self.gate else "fixed"
        self.escalate = self.threshold = None
        self.last_ms = self.last_gate_ms = 0.0
        self.last_width = self.width

    def _check_inputs(self, entries: dict[str, str]) -> None:
        """Refuse a program whose input is not the manifest's, before a runtime is fed the wrong shape."""
        for width in entries:
            expected = self.input_shape if width == GATE or not self.gate else tuple(self.gate["features_shape"])
            found = self.engine.input_shape(width)
            if found != expected:
                raise BundleError(f"{self.bundle.path}: the {self.backend} program '{entries[width]}' takes "
                                  f"{list(found)}, the manifest says {list(expected)}; rebuild the bundle")

    @classmethod
    def open(cls, bundle: Bundle | str | Path, backend: str | None = None, threads: int | None = None,
             verify: bool = True) -> DynamicModel:
        """Open ``bundle`` (an opened :class:`Bundle` or its path) on ``backend`` (default: the first of the
        target's backends this machine can run) with ``threads`` (default: the target profile's)."""
        bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle, verify=verify)
        runnable = [b for b in bundle.backends if b in runnable_here()]
        if backend is None:
            if not runnable:
                raise BundleError(f"{bundle.path}: none of its backends ({', '.join(bundle.backends)}) runs on this "
                                  f"machine; install ai-edge-litert or tflite-runtime (pip install edgeslim[tflite])")
            backend = runnable[0]
        elif backend not in bundle.backends:
            raise unknown_name("backend of this bundle", backend, bundle.backends)
        elif backend not in runnable:
            raise BundleError(f"backend {backend} cannot run on this machine (runnable here: "
                              f"{', '.join(runnable) or 'none'})")
        threads = threads or bundle.manifest.get("target", {}).get("threads") or default_threads()
        return cls(bundle, backend, threads)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.bundle.manifest["input"]["shape"])

    def set_width(self, width: str | int) -> None:
        """Switch to ``width`` (a name, or an index into ``widths``, smallest first); under gate routing, the
        widest the gate may choose."""
        if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
            if not -len(self.widths) <= width < len(self.widths):
                raise EdgeslimError(f"set_width({width}): this bundle has {len(self.widths)} widths "
                                    f"({', '.join(self.widths)}); use an index below {len(self.widths)}")
            width = self.widths[width]
        elif not isinstance(width, str):
            raise EdgeslimError(f"set_width({width!r}): give a width's name ({', '.join(self.widths)}) or its index "
                                "in widths (0 = the smallest)")
        elif width not in self.widths:
            raise unknown_name("width", width, self.widths)
        self.width = width

    def set_routing(self, routing: str, head: str | None = None, escalate: float | None = None) -> None:
        """``"gate"`` (the gate picks, capped at ``width``), ``"cascade"`` (the narrowest width, escalated to
        ``width`` when unsure) or ``"fixed"``; ``head``: which gate width head (complexity weight) decides, default
        the bundle's; ``escalate``: the cascade's share of inputs to escalate, in [0, 1], default the bundle's."""
        if routing not in ROUTINGS or (not self.gate and routing != "fixed"):
            raise unknown_name("routing of this bundle", routing,
                               ROUTINGS if self.gate else ["fixed (the bundle has no gate)"])
        if head is not None:
            names = [h["name"] for h in self.gate["heads"]] if self.gate else []
            if head not in names:
                raise unknown_name("gate head", head, names)
            self.head = names.index(head)
        if routing == "cascade":
            cascade = self.gate.get("cascade")
            if not cascade:
                raise EdgeslimError(f"routing cascade: {self.bundle.path} has no cascade thresholds (its run was "
                                    "trained before edgeslim calibrated them); retrain with --method dsnet")
            escalate = cascade["default"] if escalate is None else escalate
            if not 0 <= escalate <= 1:
                raise EdgeslimError(f"escalate {escalate}: give the share of inputs to escalate, in [0, 1]")
            self.escalate = escalate
            self.threshold = float(np.inf if escalate >= 1 else np.interp(
                escalate, [0, *cascade["shares"]], [0, *cascade["thresholds"]]))
        elif escalate is not None:
            raise EdgeslimError(f"escalate {escalate}: only the cascade routing escalates; drop it or use cascade")
        self.routing = routing

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class scores (logits) of a raw image — HxW or HxWxC, uint8 or float in [0, 1], or CxHxW float as in
        the bundle's samples — preprocessed as the manifest says (resize, channels, mean/std); a batch of them
        (one more leading axis) gives one row per image."""
        image = np.asarray(image)
        channels = self.input_shape[1]
        if image.ndim == 4 or image.ndim == 3 and image.shape[-1] not in (1, 3, 4) and image.shape[0] != channels:
            return np.stack([self.predict(one) for one in image])
        return self(preprocess(image, self.bundle.manifest["input"]))[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, classes) of preprocessed inputs ``x`` (N, C, H, W) at the current width, one call per input
        (the programs take batch 1; ``last_ms`` is the last one's)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self.input_shape[1:] or not len(x):
            raise EdgeslimError(f"input of shape {x.shape}: the model takes preprocessed (N, "
                                f"{', '.join(map(str, self.input_shape[1:]))}) float32; for raw images use predict()")
        if len(x) > 1:
            return np.concatenate([self(x[i:i + 1]) for i in range(len(x))])
        started = time.perf_counter()
        if not self.gate:
            out = self.engine.run(self.width, x)
            self.last_width = self.width
        else:
            features, head_logits = self.engine.run_all(GATE, x)
            self.last_gate_ms = (time.perf_counter() - started) * 1e3
            width = self.width
            if self.routing == "cascade":
                out, width = self._cascade(features, width)
            else:
                if self.routing == "gate":  # the head's choice among the ladder's widths up to the cap
                    width = self._ladder[head_logits[0, self.head, : self._ladder.index(width) + 1].argmax()]
                out = self.engine.run(width, features)
            self.last_width = width
        self.last_ms = (time.perf_counter() - started) * 1e3
        return out

    def _cascade(self, features: np.ndarray, cap: str) -> tuple[np.ndarray, str]:
        """The narrowest width's logits, or ``cap``'s where the narrowest's top softmax probability is below the
        threshold; and the width they came from."""
        narrow = self._ladder[0]
        out = self.engine.run(narrow, features)
        if cap == narrow or 1.0 / np.exp(out[0] - out[0].max()).sum() >= self.threshold:
            return out, narrow
        return self.engine.run(cap, features), cap
