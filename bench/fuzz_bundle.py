"""Fuzz what edgeslim reads from elsewhere: bundles (manifest, blob, skeletons, samples, archives) opened and run
at every width on the device side, run directories loaded on the host, telemetry parsers fed garbage.

    python bench/fuzz_bundle.py BUNDLE [--cases 5000] [--seed 0] [--run RUN] [--run-cases 500]
                                       [--telemetry-cases 1000] [--device-python .venv-device/bin/python]

Every case must end in a correct result (the same logits per width as the pristine bundle) or one clean
``EdgeslimError`` line; anything else — another exception, a hang, a crash of the process, a wrong output, a
file written or deleted outside the case's folder — is counted against it. Bundle cases run in a separate
worker process (the torch-free device environment by default) so that a native crash is seen, not suffered.
Prints the table per family.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

OUTCOMES = ("ok", "clean error", "exception", "hang", "crash", "wrong output", "outside")
CASE_SECONDS = 30  # a case that takes longer hangs
ODD_VALUES = [None, -1, 0, 1, 2**40, 1e308, -0.5, "", "x", "/usr/lib", "../manifest.json", "model.tflite.skel",
              [], {}, [1], {"a": 1}, True, "a" * 10_000]


# ---- mutations ----------------------------------------------------------------------------------------------

def _paths(node, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:8]):
            yield from _paths(value, (*prefix, i))


def _set(tree, path, value):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def mutate_manifest(manifest: dict, rng: random.Random) -> tuple[dict, str]:
    tree = json.loads(json.dumps(manifest))
    paths = [p for p, _ in _paths(tree) if p]
    path = rng.choice(paths)
    node = tree
    for key in path[:-1]:
        node = node[key]
    value = node[path[-1]]
    how = rng.choice(["delete", "odd", "number", "swap", "duplicate", "rename"])
    if how == "delete" and isinstance(node, dict):
        del node[path[-1]]
    elif how == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        node[path[-1]] = rng.choice([0, -value, value + 1, value - 1, value * 2, value // 2 if value > 1 else 3])
    elif how in ("swap", "duplicate") and isinstance(value, list) and len(value) > 1:
        i, j = rng.sample(range(len(value)), 2)
        if how == "swap":
            value[i], value[j] = value[j], value[i]
        else:
            value[j] = json.loads(json.dumps(value[i]))
    elif how == "rename" and tree.get("widths"):
        a, b = rng.sample(range(len(tree["widths"])), 2) if len(tree["widths"]) > 1 else (0, 0)
        key = rng.choice(["name", "entry"])
        if key == "name":
            tree["widths"][a]["name"], tree["widths"][b]["name"] = tree["widths"][b]["name"], tree["widths"][a]["name"]
        else:
            backend = rng.choice(list(tree["widths"][a]["backends"]))
            ea, eb = tree["widths"][a]["backends"][backend], tree["widths"][b]["backends"][backend]
            ea["entry"], eb["entry"] = eb["entry"], ea["entry"]
    else:
        node[path[-1]] = json.loads(json.dumps(rng.choice(ODD_VALUES)))
    return tree, f"{how} {'/'.join(map(str, path))}"


def _flip(data: bytes, rng: random.Random, count: int) -> bytes:
    data = bytearray(data)
    for _ in range(count):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def mutate_bytes(data: bytes, rng: random.Random, kind: str) -> tuple[bytes, str]:
    how = rng.choice(["flip", "flip header", "truncate", "append", "empty", "random"]
                     + (["zlib bomb"] if kind == "skeleton" else []) + (["pickle"] if kind == "samples" else []))
    if how == "flip":
        return _flip(data, rng, rng.randint(1, 8)), how
    if how == "flip header":
        return _flip(data[:64], rng, 2) + data[64:], how
    if how == "truncate":
        return data[: rng.randrange(max(1, len(data)))], how
    if how == "append":
        return data + os.urandom(rng.randint(1, 4096)), how
    if how == "empty":
        return b"", how
    if how == "zlib bomb":
        return zlib.compress(b"\0" * (64 << 20), 9), how
    if how == "pickle":
        buffer = io.BytesIO()
        np.savez(buffer, x=np.array([object()], dtype=object), y=np.zeros(1))
        return buffer.getvalue(), how
    return os.urandom(rng.randint(0, 65536)), how


def _tar(bundle: Path, out: Path, rng: random.Random) -> str:
    how = rng.choice(["plain", "many members", "traversal", "absolute", "symlink", "hardlink", "device", "fifo",
                      "gzip", "zeros", "truncated", "huge member", "no manifest"])
    if how == "zeros":
        out.write_bytes(b"\0" * 10240)
        return how
    mode = "w:gz" if how == "gzip" else "w"
    with tarfile.open(out, mode) as tar:
        for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
            if how == "no manifest" and file.name == "manifest.json":
                continue
            tar.add(file, arcname=file.relative_to(bundle).as_posix())
        extra = tarfile.TarInfo()
        if how == "many members":
            for i in range(20_000):
                tar.addfile(tarfile.TarInfo(f"empty/{i}"), io.BytesIO(b""))
        elif how in ("traversal", "absolute"):
            extra.name, extra.size = ("../escaped" if how == "traversal" else "/tmp/edgeslim-escaped"), 1
            tar.addfile(extra, io.BytesIO(b"x"))
        elif how in ("symlink", "hardlink"):
            extra.name, extra.type = "profiles", tarfile.SYMTYPE if how == "symlink" else tarfile.LNKTYPE
            extra.linkname = "/etc" if how == "symlink" else "../../etc/passwd"
            tar.addfile(extra)
        elif how in ("device", "fifo"):
            extra.name, extra.type = "dev", tarfile.CHRTYPE if how == "device" else tarfile.FIFOTYPE
            tar.addfile(extra)
        elif how == "huge member":
            extra.name, extra.size = "big.bin", 1 << 40  # a header declaring 1 TiB, no data behind it
            tar.fileobj.write(extra.tobuf(tar.format, tar.encoding, tar.errors))
    if how == "truncated":
        data = out.read_bytes()
        out.write_bytes(data[: rng.randrange(len(data))])
    return how


FAMILIES = ("manifest", "blob", "skeleton", "samples", "archive")


def resign(bundle: Path, manifest: dict) -> dict:
    """``manifest`` with the sizes and sha256s of the (mutated) files as they are now — a consistent hostile
    bundle, so the checks below the sha256s are reached too (an artifact's own sha256 is re-signed when its
    skeleton still assembles)."""
    from edgeslim.device.bundle.manifest import sha256_bytes, sha256_of
    from edgeslim.device.bundle.skeleton import assemble

    manifest = json.loads(json.dumps(manifest))
    blob = bundle / manifest["blob"]["file"]
    manifest["blob"].update(bytes=blob.stat().st_size, sha256=sha256_of(blob))
    if "samples" in manifest and (bundle / manifest["samples"]["file"]).is_file():
        manifest["samples"]["sha256"] = sha256_of(bundle / manifest["samples"]["file"])
    for backend, entry in manifest["artifacts"].items():
        stored = bundle / entry["stored_as"]
        if not stored.is_file():
            continue
        data = stored.read_bytes()
        entry.update(stored_bytes=len(data), stored_sha256=sha256_bytes(data))
        try:
            from safetensors.numpy import load_file

            inflated = zlib.decompressobj().decompress(data, 64 << 20)
            full = assemble(inflated, entry.get("holes", []), manifest["tensors"], load_file(str(blob)))
        except Exception:  # noqa: BLE001 — a skeleton that no longer assembles keeps its old sha256
            continue
        entry.update(bytes=len(full), sha256=sha256_bytes(full))
        for width in manifest["widths"]:
            if backend in width["backends"]:
                width["backends"][backend]["sha256"] = entry["sha256"]
    return manifest


def make_case(pristine: Path, case_dir: Path, rng: random.Random) -> tuple[str, str, Path]:
    """A mutated copy of ``pristine`` under ``case_dir`` (unchanged files hard-linked): (family, what, path)."""
    bundle = case_dir / "bundle"
    bundle.mkdir(parents=True)
    for file in pristine.iterdir():
        if file.is_file():
            os.link(file, bundle / file.name)
        elif file.is_dir():
            shutil.copytree(file, bundle / file.name)
    manifest = json.loads((pristine / "manifest.json").read_text())
    family = rng.choice(FAMILIES)
    what = ""
    if family == "manifest":
        mutated, what = mutate_manifest(manifest, rng)
        (bundle / "manifest.json").unlink()
        (bundle / "manifest.json").write_text(json.dumps(mutated))
    elif family in ("blob", "skeleton", "samples"):
        name = {"blob": manifest["blob"]["file"], "samples": manifest.get("samples", {}).get("file", "samples.npz"),
                "skeleton": rng.choice([a["stored_as"] for a in manifest["artifacts"].values()
                                        if a.get("compression")])}[family]
        data, what = mutate_bytes((pristine / name).read_bytes(), rng, family)
        (bundle / name).unlink()
        (bundle / name).write_bytes(data)
        if rng.random() < 0.5:
            (bundle / "manifest.json").unlink()
            (bundle / "manifest.json").write_text(json.dumps(resign(bundle, manifest)))
            what += ", re-signed"
    else:
        if rng.random() < 0.5:  # an archive of a damaged bundle, or of a sound one
            mutated, _ = mutate_manifest(manifest, rng)
            (bundle / "manifest.json").unlink()
            (bundle / "manifest.json").write_text(json.dumps(mutated))
        archive = case_dir / "bundle.tar"
        what = _tar(bundle, archive, rng)
        shutil.rmtree(bundle)
        return family, what, archive
    return family, what, bundle


# ---- the worker: open, run every width, unpack --------------------------------------------------------------

def reference_logits(bundle: Path) -> dict[str, list[float]]:
    from edgeslim import DynamicModel

    model = DynamicModel.open(bundle, backend="tflite", threads=1)
    zeros = np.zeros(model.input_shape, np.float32)
    out = {}
    for width in model.widths:
        model.set_width(width)
        out[width] = model(zeros)[0].tolist()
    return out


def _alarm(signum, frame):
    raise TimeoutError("case took too long")


def run_case(path: Path, case_dir: Path, reference: dict | None) -> tuple[str, str]:
    """(outcome, detail) of opening ``path``, running every width (against ``reference`` logits when given),
    reading its samples and unpacking it."""
    from edgeslim import DynamicModel, EdgeslimError
    from edgeslim.device.bundle import unpack

    before = {p.name for p in case_dir.parent.iterdir()}
    signal.alarm(CASE_SECONDS)
    try:
        model = DynamicModel.open(path, backend="tflite", threads=1)
        zeros = np.zeros(model.input_shape, np.float32)
        for width in model.widths:
            model.set_width(width)
            logits = model(zeros)[0]
            if reference is not None and (width not in reference or
                                          not np.allclose(logits, reference[width], atol=1e-5)):
                return "wrong output", f"width {width}"  # the manifest says these are the pristine programs
        model.bundle.samples()
        unpack(path, case_dir / "unpacked")
        outcome, detail = "ok", ""
    except EdgeslimError as exc:
        text = str(exc)
        outcome, detail = ("clean error", text) if "\n" not in text and text else ("exception", f"multi-line: {text}")
    except TimeoutError:
        outcome, detail = "hang", ""
    except Exception as exc:  # the kind of failure this fuzzer exists to find
        outcome, detail = "exception", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.alarm(0)
    after = {p.name for p in case_dir.parent.iterdir()}
    if after != before:
        return "outside", f"entries beside the case changed: {sorted(after ^ before)}"
    return outcome, detail


def worker(pristine: Path, cases: int, seed: int, start: int, root: Path) -> None:
    """Run cases ``start``..``cases``-1, one JSON line each (``started`` first, so a crash names its case)."""
    reference = reference_logits(pristine)
    signal.signal(signal.SIGALRM, _alarm)
    for index in range(start, cases):
        rng = random.Random(seed * 1_000_003 + index)
        case_dir = root / f"case{index}"
        os.environ["EDGESLIM_CACHE"] = str(case_dir / "cache")
        family, what, path = make_case(pristine, case_dir, rng)
        print(json.dumps({"case": index, "family": family, "what": what, "started": True}), flush=True)
        # a re-signed bundle is a different, consistent model: it must run, its logits may differ
        outcome, detail = run_case(path, case_dir, None if "re-signed" in what else reference)
        print(json.dumps({"case": index, "family": family, "what": what, "outcome": outcome, "detail": detail}),
              flush=True)
        shutil.rmtree(case_dir, ignore_errors=True)


def fuzz_bundles(pristine: Path, cases: int, seed: int, python: str = sys.executable) -> list[dict]:
    """Every case's result, run in worker processes of ``python`` (restarted after a crash)."""
    results: dict[int, dict] = {}
    start = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cases"
        root.mkdir()
        decoy = Path(tmp) / "decoy"
        decoy.mkdir()
        (decoy / "keep.txt").write_text("must survive")
        while start < cases:
            log = tempfile.TemporaryFile(mode="w+")
            proc = subprocess.Popen([python, __file__, "--worker", str(pristine), "--cases", str(cases), "--seed",
                                     str(seed), "--start", str(start), "--root", str(root)],
                                    stdout=subprocess.PIPE, stderr=log, text=True)
            last = None
            for line in proc.stdout:
                row = json.loads(line)
                if row.get("started"):
                    last = row
                else:
                    results[row["case"]] = row
            proc.wait()
            log.seek(0)
            errors = log.read()
            log.close()
            if last is not None and last["case"] not in results:
                results[last["case"]] = {**last, "outcome": "crash", "detail": f"exit {proc.returncode}"}
                shutil.rmtree(root / f"case{last['case']}", ignore_errors=True)
            elif proc.returncode != 0:
                raise RuntimeError(f"the fuzz worker failed between cases (exit {proc.returncode}): "
                                   f"{errors[-2000:]}")
            start = max(results) + 1 if results else cases
        if not (decoy / "keep.txt").is_file() or sorted(p.name for p in Path(tmp).iterdir()) != ["cases", "decoy"]:
            results[-1] = {"case": -1, "family": "all", "what": "decoy", "outcome": "outside",
                           "detail": "a file outside the cases was written or deleted"}
    return [results[i] for i in sorted(results)]


# ---- run directories (host) --------------------------------------------------------------------------------

def mutate_run(pristine: Path, case_dir: Path, rng: random.Random) -> tuple[str, str]:
    """A copy of run directory ``pristine`` with run.json or model.safetensors damaged."""
    run = case_dir / "run"
    shutil.copytree(pristine, run)
    if rng.random() < 0.5:
        info, what = mutate_manifest(json.loads((pristine / "run.json").read_text()), rng)
        (run / "run.json").write_text(json.dumps(info))
        return "run.json", what
    data = (pristine / "model.safetensors").read_bytes()
    how = rng.choice(["relabel dtype", "reshape", "bytes"])
    if how == "bytes":
        data, how = mutate_bytes(data, rng, "blob")
    else:
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        name = rng.choice([k for k in header if k != "__metadata__"])
        if how == "relabel dtype":
            header[name]["dtype"] = rng.choice(["I32", "F16", "I64", "U8"])
        else:
            header[name]["shape"] = list(reversed(header[name]["shape"])) + [1]
        text = json.dumps(header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        data = len(text).to_bytes(8, "little") + text + data[8 + length:]
        how = f"{how} {name}"
    (run / "model.safetensors").write_bytes(data)
    return "model.safetensors", how


def fuzz_runs(pristine: Path, cases: int, seed: int) -> list[dict]:
    """Damaged copies of a run directory given to ``load_run`` and ``Run.evaluate``: a clean error or a run that
    loads and evaluates as the pristine one does."""
    from edgeslim import EdgeslimError, load_run

    expected = [c["meta"]["top1"] for c in load_run(pristine).info["configs"]]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(cases):
            rng = random.Random(seed * 7_919 + index)
            case_dir = Path(tmp) / f"case{index}"
            family, what = mutate_run(pristine, case_dir, rng)
            try:
                run = load_run(case_dir / "run")
                rows = [r["top1"] for r in run.evaluate()]
                outcome, detail = ("ok", "") if len(rows) == len(expected) else ("wrong output", f"{rows}")
            except EdgeslimError as exc:
                outcome, detail = ("clean error", str(exc)) if "\n" not in str(exc) else ("exception", str(exc))
            except Exception as exc:  # noqa: BLE001
                outcome, detail = "exception", f"{type(exc).__name__}: {exc}"[:300]
            results.append({"case": index, "family": family, "what": what, "outcome": outcome, "detail": detail})
            shutil.rmtree(case_dir, ignore_errors=True)
    return results


# ---- telemetry parsers (device) -----------------------------------------------------------------------------

def _garbage(rng: random.Random) -> bytes:
    return rng.choice([b"", b"\xff\xfe\x00garbage", b"1.2.3", b"-", b"nan", b"inf", b"99999999999999999999",
                       b"42000", b"0x50005", os.urandom(rng.randint(1, 64)), b"temp=55.8'C", b"throttled=0x5"])


def _sysfs_tree(root: Path, rng: random.Random) -> None:
    """A sysfs-like tree of thermal zones, cooling devices, cpufreq policies, batteries and hwmon rails whose
    files hold garbage, are FIFOs, point at /dev/zero, or are folders."""
    files = ["thermal_zone0/temp", "thermal_zone1/temp", "cooling_device0/type", "cooling_device0/cur_state",
             "cpu0/cpufreq/scaling_max_freq", "cpu0/cpufreq/cpuinfo_max_freq", "BAT0/capacity", "BAT0/status",
             "BAT0/power_now", "hwmon0/in1_label", "hwmon0/in1_input", "hwmon0/curr1_input"]
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = rng.choice(["garbage", "garbage", "fifo", "devzero", "folder", "missing"])
        if kind == "garbage":
            path.write_bytes(_garbage(rng))
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "devzero":
            path.symlink_to("/dev/zero")
        elif kind == "folder":
            path.mkdir()


def fuzz_telemetry(cases: int, seed: int) -> list[dict]:
    """Every provider's ``read()`` on garbage: it returns a Reading or None, never raises, never blocks."""
    import serial

    from edgeslim.device.telemetry import (
        CpuFreq,
        CsvPowerMeter,
        JetsonRails,
        PowerSupply,
        Reading,
        ThermalZones,
        UMMeter,
        parse_tegrastats,
    )
    from edgeslim.device.telemetry.rpi import parse_temperature, parse_throttled

    results = []
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(cases):
            rng = random.Random(seed * 104_729 + index)
            root = Path(tmp) / f"case{index}"
            _sysfs_tree(root, rng)
            family = rng.choice(["sysfs", "parsers", "serial"])
            signal.alarm(10)
            try:
                if family == "sysfs":
                    values = [p.read() for p in (ThermalZones(root), CpuFreq(root), PowerSupply(root),
                                                 JetsonRails(root))]
                elif family == "parsers":
                    text = _garbage(rng).decode("latin-1") * rng.randint(1, 3)
                    values = [parse_tegrastats(text), parse_temperature(text), parse_throttled(text)]
                else:
                    port = serial.serial_for_url("loop://", timeout=0.05)
                    meter = rng.choice([CsvPowerMeter, UMMeter])("loop://")
                    meter._port = port
                    port.write(_garbage(rng) + rng.choice([b"", b"\n", b"5.0,400", b"5.0,400,2000\n"]))
                    values = [meter.read()]
                    if rng.random() < 0.5:
                        port.close()  # a meter unplugged between reads
                        values.append(meter.read())
                bad = [v for v in values if v is not None and not isinstance(v, (Reading, bool, float))]
                outcome, detail = ("ok", "") if not bad else ("exception", f"returned {bad!r}")
            except TimeoutError:
                outcome, detail = "hang", ""
            except Exception as exc:  # noqa: BLE001
                outcome, detail = "exception", f"{type(exc).__name__}: {exc}"[:300]
            finally:
                signal.alarm(0)
            results.append({"case": index, "family": family, "what": "", "outcome": outcome, "detail": detail})
            shutil.rmtree(root, ignore_errors=True)
    return results


def table(results: list[dict]) -> str:
    counts = {family: Counter() for family in sorted({r["family"] for r in results})}
    for r in results:
        counts[r["family"]][r["outcome"]] += 1
    lines = ["| family | cases | " + " | ".join(OUTCOMES) + " |", "|---|---|" + "---|" * len(OUTCOMES)]
    for family, c in counts.items():
        lines.append(f"| {family} | {sum(c.values())} | " + " | ".join(str(c[o]) for o in OUTCOMES) + " |")
    total = Counter(r["outcome"] for r in results)
    lines.append(f"| all | {len(results)} | " + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--run", help="a run directory to fuzz too (host environment)")
    parser.add_argument("--run-cases", type=int, default=500)
    parser.add_argument("--telemetry-cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device-python", default=str(Path(__file__).resolve().parent.parent / ".venv-device" /
                                                       "bin" / "python"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.bundle), args.cases, args.seed, args.start, Path(args.root))
        return
    python = args.device_python if Path(args.device_python).exists() else sys.executable
    results = fuzz_bundles(Path(args.bundle), args.cases, args.seed, python)
    print(f"bundle fuzz: {len(results)} cases, seed {args.seed}, worker {python}")
    print(table(results))
    sections = [("bundles", results)]
    if args.run:
        sections.append(("run directories", fuzz_runs(Path(args.run), args.run_cases, args.seed)))
    if args.telemetry_cases:
        sections.append(("telemetry", fuzz_telemetry(args.telemetry_cases, args.seed)))
    for name, rows in sections[1:]:
        print(f"\n{name} fuzz: {len(rows)} cases, seed {args.seed}")
        print(table(rows))
    for name, rows in sections:
        for r in [r for r in rows if r["outcome"] not in ("ok", "clean error")][:20]:
            print(f"- {name} case {r['case']} ({r['family']}: {r['what']}): {r['outcome']} {r['detail']}")


if __name__ == "__main__":
    main()
