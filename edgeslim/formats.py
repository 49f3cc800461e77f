"""The identifiers of every file format edgeslim writes and reads, in one place (torch-free).

| constant | file | written by |
|---|---|---|
| ``RUN`` | ``RUN/run.json`` (+ ``model.safetensors``) | ``edgeslim train`` / ``search`` |
| ``BUNDLE`` | ``BUNDLE/manifest.json`` | ``edgeslim build`` |
| ``PROFILE`` | ``BUNDLE/profiles/<device>.json`` | ``edgeslim profile`` |
| ``LATENCY`` | ``BUNDLE/profiles/<device>.latency.json``, per-layer tables | ``edgeslim profile``, the user |
"""

RUN = 1
BUNDLE = "edgeslim-bundle/1"
PROFILE = "edgeslim-profile/1"
LATENCY = "edgeslim-latency/1"
