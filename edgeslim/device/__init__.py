"""The device side: everything a board or phone runs, torch-free (numpy, a TFLite or ExecuTorch runtime).

Bundle reading and verification (``bundle``), the backend interpreters (``engines``), the runtime
(``runtime.DynamicModel``), the width controller (``controller``), telemetry providers (``telemetry``), target
profiles (``targets``), on-device profiling (``profile``), trace replay (``simulate``) and the live loop
(``live``). Nothing under ``edgeslim.device`` may import torch; a test imports every module of it in the
torch-free device environment.
"""
