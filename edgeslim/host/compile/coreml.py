"""Core ML export: one multifunction .mlpackage whose functions share the full-width weights.

coremltools folds every constant slice at conversion, so per-width exports never share bytes. Here each width is
converted to a MIL program with its BN kept apart (not folded into the weights), then every conv / linear
weight that is a prefix of a full-width weight is replaced by ``slice_by_index`` of that full weight (then a
``gather`` along one axis where a concat leaves the width segments of it), and the program is finished without
constant elimination. All functions then hold byte-identical full-width constants,
which ``save_multifunction`` stores once; each width's own BN statistics stay small per-function constants.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeslim.host.compile.exporters import ExportJob, entry_io, example_for
from edgeslim.quiet import quiet


def _pipeline(ct, *removed: str):
    pipeline = ct.PassPipeline.DEFAULT
    pipeline.remove_passes(list(removed))
    return pipeline


def _gather(value: np.ndarray, weight: np.ndarray) -> tuple[list[int], int | None, np.ndarray | None] | None:
    """How ``value`` is cut from ``weight``: the end of the leading block, and the axis and ascending indices
    gathered along it (``None``: a plain prefix); ``None`` if it is not."""
    if weight.ndim != value.ndim or any(a > b for a, b in zip(value.shape, weight.shape)):
        return None
    if np.array_equal(weight[tuple(slice(0, n) for n in value.shape)], value):
        return list(value.shape), None, None
    for axis in range(min(2, value.ndim)):
        end = [weight.shape[d] if d == axis else n for d, n in enumerate(value.shape)]
        block = weight[tuple(slice(0, n) for n in end)]
        if not np.array_equal(np.take(block, [0], axis), np.take(value, [0], axis)):
            continue  # a concat's first segment starts at channel 0
        indices = []
        for i in range(block.shape[axis]):  # greedy: the earliest equal slice, in order
            if len(indices) < value.shape[axis] and np.array_equal(np.take(block, [i], axis),
                                                                   np.take(value, [len(indices)], axis)):
                indices.append(i)
        if len(indices) == value.shape[axis]:
            return end, axis, np.array(indices, np.int32)
    return None


def _source_of(value: np.ndarray, full: dict[str, np.ndarray]):
    for name, weight in full.items():
        found = _gather(value, weight)
        if found is not None:
            return (name, weight, *found)
    return None


def share_full_weights(program, full: dict[str, np.ndarray], dtype=np.float32) -> int:
    """Rewrite conv / linear weight constants of ``program`` as slices of ``full`` weights (stored as ``dtype``);
    returns how many."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil.scope import ScopeInfo, ScopeSource

    replaced = 0
    for function in program.functions.values():
        with function:
            for op in list(function.operations):
                weight = getattr(op, "weight", None) if op.op_type in ("conv", "linear") else None
                if weight is None or weight.op is None or weight.op.op_type != "const" or weight.val is None:
                    continue
                found = _source_of(weight.val, full)
                if found is None:
                    continue
                name, value, end, axis, indices = found
                with mb.scope(ScopeInfo(source=ScopeSource.TORCHSCRIPT_MODULE_TYPE, data=["edgeslim_shared"]),
                              ScopeInfo(source=ScopeSource.TORCHSCRIPT_MODULE_NAME, data=[name])):
                    source = mb.const(val=value.astype(dtype), name=f"shared_{name.replace('.', '_')}", before_op=op)
                    sliced = mb.slice_by_index(x=source, begin=[0] * value.ndim, end=end, before_op=op)
                    if axis is not None:
                        sliced = mb.gather(x=sliced, indices=indices, axis=axis, before_op=op)
                    if sliced.val is not None and not np.array_equal(sliced.val, weight.val.astype(dtype)):
                        raise AssertionError(f"Core ML: the shared slice of {name} differs from the width's weight")
                    if dtype != np.float32:  # stored in fp16; the fp16 pipeline folds the cast pair away
                        sliced = mb.cast(x=sliced, dtype="fp32", before_op=op)
                op.enclosing_block.replace_uses_of_var_after_op(anchor_op=sliced.op, old_var=weight, new_var=sliced)
                replaced += 1
    return replaced


def export_coreml(models: dict[str, nn.Module], example, path: Path, job: ExportJob) -> Path:
    """A multifunction .mlpackage (iOS 18 / macOS 15): one function per width, the largest is the default.

    ``models`` are the widths as static models with BN *unfolded*; ``job.full_weights`` the full-width conv /
    linear weights they are prefixes of. ``fp16``: fp16 compute and weights; ``int8``: int8 weights (linear
    symmetric, per channel), fp16 compute. ``job.io`` names a function's input and outputs (default ``image`` →
    ``logits``); ``example`` is one input for all functions or one per function.
    """
    with quiet(), tempfile.TemporaryDirectory() as tmp:
        import coremltools as ct

        precision, full_weights = job.precision, job.full_weights or {}
        compute = ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16
        descriptor = ct.utils.MultiFunctionDescriptor()
        for name, model in models.items():
            x = example_for(example, name)
            input_name, output_names = entry_io(job, name)
            program = ct.convert(torch.jit.trace(model, x),
                                 inputs=[ct.TensorType(name=input_name, shape=tuple(x.shape))],
                                 outputs=[ct.TensorType(name=o) for o in output_names], convert_to="milinternal",
                                 minimum_deployment_target=ct.target.iOS18,
                                 compute_precision=ct.precision.FLOAT32,  # fp32 constants to match the blob
                                 pass_pipeline=_pipeline(ct, "common::fuse_conv_batchnorm"))
            share_full_weights(program, full_weights, np.float32 if precision == "fp32" else np.float16)
            converted = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS18,
                                   compute_precision=compute,
                                   pass_pipeline=_pipeline(ct, "common::const_elimination",
                                                           "common::fuse_conv_batchnorm"))
            if precision == "int8":
                config = ct.optimize.coreml.OptimizationConfig(global_config=ct.optimize.coreml.OpLinearQuantizerConfig(
                    mode="linear_symmetric", dtype="int8", granularity="per_channel"))
                converted = ct.optimize.coreml.linear_quantize_weights(converted, config)
            single = Path(tmp) / f"{name}.mlpackage"
            converted.save(str(single))
            descriptor.add_function(str(single), src_function_name="main", target_function_name=name)
        descriptor.default_function_name = list(models)[-1]
        combined = Path(tmp) / "combined.mlpackage"
        ct.utils.save_multifunction(descriptor, str(combined))
        package = ct.models.MLModel(str(combined), skip_model_load=True)
        package.user_defined_metadata["edgeslim"] = json.dumps(job.metadata)
        package.short_description = f"edgeslim {job.metadata.get('model', '')}: widths {', '.join(models)}"
        package.save(str(path))
    return path
