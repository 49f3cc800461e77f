"""The manifest schema (``edgeslim-bundle/1``), checked before anything in a bundle is used (torch-free).

Types and ranges are msgspec structs (decoded straight from the file's bytes, fast enough to check on every
open); the relations between fields are :func:`check_relations`. A bundle comes from elsewhere, so every file
name is a plain name inside the bundle, every reference points at something that exists, every offset and
shape fits what it indexes, and the input is a positive, bounded batch-1 shape — the runtimes never see a
value they would abort on. ``schema_json()`` is the same schema as JSON Schema, for readers in other languages.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from edgeslim.backends import BACKENDS, INPUT_LAYOUTS, PRECISIONS
from edgeslim.device.bundle.recipes import LAYOUTS
from edgeslim.errors import EdgeslimError
from edgeslim.formats import BUNDLE

MAX_DIM = 1 << 16                   # one dimension of an input, feature map or weight
MAX_INPUT_ELEMENTS = 1 << 26        # 256 MiB of float32: refuse larger inputs before allocating them
MAX_ARTIFACT_BYTES = 1 << 34        # 16 GiB: a declared artifact size above this is not a bundle's
MAX_SAMPLES = 100_000

Name = Annotated[str, Meta(min_length=1, max_length=256)]
FileName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")]  # a plain name inside the bundle
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Meta(ge=0)]
Size = Annotated[int, Meta(ge=1, le=MAX_ARTIFACT_BYTES)]
Dim = Annotated[int, Meta(ge=1, le=MAX_DIM)]
Real = Annotated[float, Meta(ge=0)]
Share = Annotated[float, Meta(gt=0, lt=1)]
Probability = Annotated[float, Meta(ge=0, le=1)]
Layout = Literal[tuple(LAYOUTS)]
Precision = Literal[PRECISIONS]
Backend = Literal[tuple(BACKENDS)]


class BatchNorm(Struct, frozen=True):
    weight: Name
    bias: Name
    mean: Name
    var: Name
    eps: Annotated[float, Meta(gt=0, le=1)]


Run = Annotated[list[Annotated[int, Meta(ge=0, le=MAX_DIM)]], Meta(min_length=2, max_length=2)]


class Recipe(Struct, frozen=True):
    source: Name | None
    shape: Annotated[list[Dim], Meta(min_length=1, max_length=4)]
    bn: BatchNorm | None = None
    bias: bool = False
    rows: Annotated[list[Run], Meta(max_length=MAX_DIM)] | None = None
    cols: Annotated[list[Run], Meta(max_length=MAX_DIM)] | None = None


class EntryIO(Struct, frozen=True):
    input: Name
    outputs: Annotated[list[Name], Meta(min_length=1)]


class Artifact(Struct, frozen=True):
    file: FileName
    stored_as: FileName
    precision: Precision
    entries: Annotated[list[Name], Meta(min_length=1)]
    sha256: Sha256
    stored_sha256: Sha256
    bytes: Size
    stored_bytes: Size
    compression: Literal["zlib"] | None = None
    holes: list[tuple[Count, Size, Name, Layout]] = []
    layout: Literal[INPUT_LAYOUTS] = "NCHW"  # of the image input
    io: dict[Name, EntryIO] = {}


class WidthBackend(Struct, frozen=True):
    artifact: FileName
    entry: Name
    sha256: Sha256


class Width(Struct, frozen=True):
    name: Name
    channels: dict[Name, Dim]
    mflops: Real
    params: Count
    backends: dict[Backend, WidthBackend]
    top1: float | None = None


class Input(Struct, frozen=True):
    name: Name
    shape: Annotated[list[Dim], Meta(min_length=4, max_length=4)]
    dtype: Literal["float32"]
    layout: Literal["NCHW"]
    preprocessing: dict | None = None


class Model(Struct, frozen=True):
    name: Name
    input_shape: Annotated[list[Dim], Meta(min_length=3, max_length=3)]
    num_classes: Dim
    granularity: Dim


class Blob(Struct, frozen=True):
    file: FileName
    sha256: Sha256
    bytes: Size


class Samples(Struct, frozen=True):
    file: FileName
    count: Annotated[int, Meta(ge=0, le=MAX_SAMPLES)]
    sha256: Sha256


class Head(Struct, frozen=True):
    name: Name
    share: list[Real] = []


class Cascade(Struct, frozen=True):
    shares: Annotated[list[Share], Meta(min_length=1, max_length=100)]
    thresholds: Annotated[list[Probability], Meta(min_length=1, max_length=100)]
    default: Share


class Gate(Struct, frozen=True):
    entry: Name
    widths: Annotated[list[Name], Meta(min_length=1)]
    heads: Annotated[list[Head], Meta(min_length=1)]
    default: Name
    features_shape: Annotated[list[Dim], Meta(min_length=4, max_length=4)]
    cascade: Cascade | None = None


class Manifest(Struct, frozen=True):
    schema: str
    model: Model
    input: Input
    widths: Annotated[list[Width], Meta(min_length=1, max_length=256)]
    blob: Blob
    artifacts: Annotated[dict[Backend, Artifact], Meta(min_length=1)]
    tensors: dict[Name, Recipe] = {}
    classes: list[str] | None = None
    samples: Samples | None = None
    gate: Gate | None = None
    target: dict = {}
    policy: dict = {}


def _schema_version(raw: dict, file) -> None:
    found = raw.get("schema") if isinstance(raw, dict) else None
    if found == BUNDLE:
        return
    newer = re.fullmatch(r"edgeslim-bundle/(\d+)", str(found))
    if newer and int(newer.group(1)) > int(BUNDLE.rsplit("/", 1)[1]):
        raise EdgeslimError(f"{file}: built by a newer edgeslim (schema {found}); upgrade edgeslim to open it")
    raise EdgeslimError(f"{file}: not an {BUNDLE} manifest (schema: {found!r}); rebuild the bundle with "
                        "edgeslim ≥ 0.1")


def decode(data: bytes, file) -> tuple[dict, Manifest]:
    """The manifest as plain data and as checked structs; one error line naming the field otherwise."""
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise EdgeslimError(f"{file}: not valid JSON ({exc}); the bundle is corrupt, rebuild it") from None
    _schema_version(raw, file)
    try:
        manifest = msgspec.convert(raw, Manifest)
    except msgspec.ValidationError as exc:
        raise EdgeslimError(f"{file}: {exc}; the bundle is corrupt, rebuild it") from None
    check_relations(manifest, file)
    return raw, manifest


def _unique(names: list[str], what: str, file) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise EdgeslimError(f"{file}: {what} '{name}' appears twice; the bundle is corrupt, rebuild it")
        seen.add(name)


def check_relations(m: Manifest, file) -> None:
    """Every reference resolves, names are unique, holes fit their artifact, the input is batch 1 and bounded."""
    def bad(message: str) -> EdgeslimError:
        return EdgeslimError(f"{file}: {message}; the bundle is corrupt, rebuild it")

    names = [w.name for w in m.widths]
    _unique(names, "width", file)
    if m.input.shape[0] != 1 or m.input.shape[1:] != m.model.input_shape:
        raise bad(f"input shape {m.input.shape} is not [1, *model.input_shape] = [1, {m.model.input_shape}]")
    if math.prod(m.input.shape) > MAX_INPUT_ELEMENTS:
        raise bad(f"input shape {m.input.shape} is larger than {MAX_INPUT_ELEMENTS} elements")
    files = [m.blob.file] + [a.stored_as for a in m.artifacts.values()] + ([m.samples.file] if m.samples else [])
    _unique(files, "file", file)
    gate_entry = [m.gate.entry] if m.gate else []
    for backend, artifact in m.artifacts.items():
        table = BACKENDS[backend]
        if artifact.file != table.artifact:
            raise bad(f"artifact {backend} is '{artifact.file}', expected '{table.artifact}'")
        skeleton = table.stored == "skeleton"
        if skeleton and (artifact.stored_as != artifact.file + ".skel" or artifact.compression != "zlib"):
            raise bad(f"artifact {backend} must be stored as {artifact.file}.skel, zlib-compressed")
        if not skeleton and (artifact.stored_as != artifact.file or artifact.holes):
            raise bad(f"artifact {backend} is stored whole as {artifact.file}, without holes")
        _unique(artifact.entries, f"{backend} entry", file)
        if artifact.layout not in table.layouts:
            raise bad(f"artifact {backend} takes {artifact.layout} input, which {backend} cannot")
        if artifact.io and sorted(artifact.io) != sorted(artifact.entries):
            raise bad(f"{backend} io names entries {sorted(artifact.io)}, not its entries {artifact.entries}")
        if sorted(artifact.entries) != sorted(names + gate_entry):
            raise bad(f"{backend} entries {artifact.entries} are not the widths {names + gate_entry}")
        end = 0
        for offset, length, tensor, _ in artifact.holes:
            if offset < end:
                raise bad(f"{backend} hole at {offset} overlaps the previous one or is out of order")
            end = offset + length
            recipe = m.tensors.get(tensor)
            if recipe is None:
                raise bad(f"{backend} hole at {offset} names tensor '{tensor}', which the manifest lacks")
            if length != 4 * math.prod(recipe.shape):
                raise bad(f"{backend} hole at {offset} has {length} bytes, tensor '{tensor}' "
                          f"{4 * math.prod(recipe.shape)}")
        if end > artifact.bytes:
            raise bad(f"{backend} holes reach byte {end}, past the artifact's {artifact.bytes}")
    for width in m.widths:
        if sorted(width.backends) != sorted(m.artifacts):
            raise bad(f"width {width.name} lists backends {sorted(width.backends)}, the bundle has "
                      f"{sorted(m.artifacts)}")
        for backend, ref in width.backends.items():
            artifact = m.artifacts[backend]
            if ref.entry != width.name or ref.artifact != artifact.file:
                raise bad(f"width {width.name} points at entry '{ref.entry}' of {ref.artifact}, not its own")
            if ref.sha256 != artifact.sha256:
                raise bad(f"width {width.name}: its {backend} sha256 does not match its sha256 in "
                          f"artifacts.{backend}")
    if m.gate:
        _unique(m.gate.widths, "gate width", file)
        _unique([h.name for h in m.gate.heads], "gate head", file)
        if not set(m.gate.widths) <= set(names) or m.gate.entry in names:
            raise bad(f"gate widths {m.gate.widths} are not the bundle's widths {names}")
        if m.gate.default not in [h.name for h in m.gate.heads]:
            raise bad(f"default gate head '{m.gate.default}' is not one of its heads")
        if m.gate.features_shape[0] != 1 or math.prod(m.gate.features_shape) > MAX_INPUT_ELEMENTS:
            raise bad(f"gate features shape {m.gate.features_shape} is not a bounded batch-1 shape")
        cascade = m.gate.cascade
        if cascade and (len(cascade.shares) != len(cascade.thresholds)
                        or any(a >= b for a, b in zip(cascade.shares, cascade.shares[1:]))
                        or any(a > b for a, b in zip(cascade.thresholds, cascade.thresholds[1:]))):
            raise bad("gate cascade: shares must rise, with one non-decreasing threshold each")


def check_against_blob(m: Manifest, header: dict[str, dict], file) -> None:
    """Every recipe's tensors exist in the blob as float32, and every prefix fits inside its source."""
    shapes = {name: entry.get("shape") for name, entry in header.items()
              if isinstance(entry, dict) and entry.get("dtype") == "F32"}

    def shape_of(name: str) -> list[int]:
        shape = shapes.get(name)
        if not isinstance(shape, list):
            raise EdgeslimError(f"{file}: recipe tensor '{name}' is not a float32 tensor of the weight blob; the "
                                "bundle is corrupt, rebuild it")
        return shape

    for key, recipe in m.tensors.items():
        reach = list(recipe.shape)  # how far into the source each axis reads
        for axis, runs in ((0, recipe.rows), (1, recipe.cols)):
            if runs is None:
                continue
            if axis >= len(reach) or sum(n for _, n in runs) != recipe.shape[axis] or any(
                    n == 0 or (a + n > b) for (a, n), (b, _) in zip(runs, runs[1:] + [[MAX_DIM * 2, 0]])):
                raise EdgeslimError(f"{file}: tensor '{key}' has {'rows' if axis == 0 else 'cols'} {runs} that do "
                                    f"not make its shape {recipe.shape} in order; the bundle is corrupt, rebuild it")
            reach[axis] = runs[-1][0] + runs[-1][1]
        if recipe.source is not None:
            source = shape_of(recipe.source)
            if len(source) != len(recipe.shape) or any(a > b for a, b in zip(reach, source)):
                raise EdgeslimError(f"{file}: tensor '{key}' of shape {recipe.shape} is not a prefix of "
                                    f"'{recipe.source}' {source}; the bundle is corrupt, rebuild it")
        if recipe.bn is not None:
            for name in (recipe.bn.weight, recipe.bn.bias, recipe.bn.mean, recipe.bn.var):
                vector = shape_of(name)
                need = reach[0] if name in (recipe.bn.weight, recipe.bn.bias) else recipe.shape[0]
                if len(vector) != 1 or vector[0] < need:
                    raise EdgeslimError(f"{file}: batch norm tensor '{name}' of tensor '{key}' has shape {vector}, "
                                        f"needs at least {need} channels; the bundle is corrupt, rebuild it")


def schema_json() -> dict:
    """The manifest's JSON Schema (types and ranges; the relations are :func:`check_relations`)."""
    return msgspec.json.schema(Manifest)
