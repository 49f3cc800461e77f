"""What the manifest's schema check costs when a bundle is opened: the check (types, ranges, relations, the
blob's header against the recipes) against ``open_bundle`` (sizes, sha256s) and ``DynamicModel.open`` (rebuild
the artifact, load the interpreter, prepare and first-run every width). Best of N, in milliseconds.

    python bench/open_time.py BUNDLE [BUNDLE ...] [--runs 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from edgeslim import DynamicModel, open_bundle
    from edgeslim.device.bundle import schema
    from edgeslim.device.bundle.manifest import _blob_header

    print("| bundle | manifest KB | schema check ms | open_bundle ms | DynamicModel.open ms | check / open_bundle | "
          "check / DynamicModel.open |")
    print("|---|---|---|---|---|---|---|")
    for path in map(Path, args.bundles):
        data = (path / "manifest.json").read_bytes()
        bundle = open_bundle(path)
        blob = path / bundle.spec.blob.file

        def check(data=data, path=path, blob=blob):
            _, spec = schema.decode(data, path)
            schema.check_against_blob(spec, _blob_header(blob, spec.blob.bytes), blob)

        backend = "tflite" if "tflite" in bundle.backends else bundle.backends[0]
        t_check = best(check, args.runs)
        t_open = best(lambda path=path: open_bundle(path), args.runs)
        t_model = best(lambda path=path, backend=backend: DynamicModel.open(path, backend=backend, threads=1),
                       max(3, args.runs // 4))
        print(f"| {path.name} ({backend}) | {len(data) / 1024:.0f} | {t_check:.2f} | {t_open:.2f} | {t_model:.1f} | "
              f"{100 * t_check / t_open:.1f} % | {100 * t_check / t_model:.1f} % |")


if __name__ == "__main__":
    main()
