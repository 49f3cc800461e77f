"""edgeslim: one model, every width, picked at run time on the device.

    import edgeslim
    run = edgeslim.train(model="resnet20", data="digits", method="pss", epochs=30)   # host (torch)
    bundle = edgeslim.build(run, target="android-arm64")
    model = edgeslim.DynamicModel.open(bundle)                                           # device (torch-free)
    scores = model.predict(image)

Importing the package imports nothing else: each public name is resolved when first used, so ``import edgeslim``
works on a board with only numpy and a TFLite interpreter, and the host names bring torch in only when called
for. ``edgeslim.host`` holds the torch side, ``edgeslim.device`` the torch-free side.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (README "Python API" documents each)
_PUBLIC = {
    # host (torch)
    "train": "edgeslim.host.api",
    "search": "edgeslim.host.api",
    "build": "edgeslim.host.api",
    "load_run": "edgeslim.host.runs",
    "Run": "edgeslim.host.runs",
    "register_model": "edgeslim.host.models",
    # options (torch-free)
    "TrainOptions": "edgeslim.host.train.options",
    "SearchOptions": "edgeslim.host.search.options",
    "BuildOptions": "edgeslim.host.compile.options",
    # device (torch-free)
    "open_bundle": "edgeslim.device.bundle.manifest",
    "Bundle": "edgeslim.device.bundle.manifest",
    "DynamicModel": "edgeslim.device.runtime",
    "profile": "edgeslim.device.profile",
    "Profile": "edgeslim.device.profile",
    "ProfileOptions": "edgeslim.device.profile",
    "simulate": "edgeslim.device.simulate",
    "Simulation": "edgeslim.device.simulate",
    "SimulationOptions": "edgeslim.device.simulate",
    "WidthController": "edgeslim.device.controller",
    "Policy": "edgeslim.device.controller",
    "BACKENDS": "edgeslim.backends",
    "EdgeslimError": "edgeslim.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeslim' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
