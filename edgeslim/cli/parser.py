"""The argument parser of `edgeslim`: one sub-parser per command; defaults are read from the options classes."""

from __future__ import annotations

import argparse
import difflib
import re

from edgeslim.backends import BACKENDS, INPUT_LAYOUTS, PRECISIONS
from edgeslim.device.profile import ProfileOptions
from edgeslim.device.runtime import ROUTINGS
from edgeslim.device.simulate import SimulationOptions
from edgeslim.errors import closest
from edgeslim.host.compile.options import BuildOptions
from edgeslim.host.search.options import DEVICES, JOINTS, SCHEDULES, STARTS, TEACHERS, UNITS, SearchOptions
from edgeslim.host.train.options import TRAINING_METHODS, TrainOptions
from edgeslim.options import defaults


class Parser(argparse.ArgumentParser):
    """argparse that answers a wrong option or choice with one line and the closest valid names, and takes no
    abbreviations (``--device`` is not ``--device-name``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str):
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            options = [o for o in self._option_string_actions if o.startswith("--")]
            for word in words:
                if word.startswith("-"):
                    close = difflib.get_close_matches(word.split("=")[0], options, n=3, cutoff=0.5)
                    hint = f"; did you mean {', '.join(close)}?" if close else ""
                    message = f"unknown option {word}{hint} (see {self.prog} --help)"
                    break
        elif "invalid choice:" in message:
            match = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message)
            if match:
                what, bad, choices = match.groups()
                valid = [c.strip(" '") for c in choices.split(",")]
                close = closest(bad, valid)
                what = "command" if what == "command" else f"value for {what}"
                message = (f"unknown {what} '{bad}'" + (f"; did you mean {', '.join(close)}?" if close else "")
                           + f" (valid: {', '.join(valid)})")
        self.exit(2, f"{self.prog}: error: {message}\n")


def numbers(text: str) -> tuple[float, ...]:
    """``"0.25,0.5,1"`` → (0.25, 0.5, 1.0), for list options such as --widths and --budgets."""
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{part}' is not a number; use e.g. 0.25,0.5,0.75,1.0") from None
    return tuple(values)


def names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _listed(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def _json_flag(p, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")


def _add_train(sub) -> None:
    d = defaults(TrainOptions)
    p = sub.add_parser("train", help="train a slimmable supernet", description="Train a width-slimmable supernet.")
    p.add_argument("--model", default=d["model"], help="a built-in model (edgeslim models lists them), or your own: "
                   "path/to/file.py:function (returns an nn.Module; called with (in_channels, num_classes, "
                   "image_size) if it takes them) (default %(default)s)")
    p.add_argument("--init", help="start from pretrained weights of the full network (.safetensors, or a PyTorch "
                   "state dict loaded with weights_only=True)")
    p.add_argument("--no-init-reorder", dest="init_reorder", action="store_false",
                   help="with --init: keep the channel order (default: reorder most-important-first by the noise "
                   "ranking, so narrow widths start from the best channels)")
    p.add_argument("--data", default=d["data"],
                   help="digits | mnist5k | npz:PATH | cifar10:DIR | imagefolder:DIR (default %(default)s)")
    p.add_argument("--method", default=d["method"], choices=TRAINING_METHODS, help="usnet (sandwich rule + "
                   "in-place distillation) | pss (usnet, then progressive sub-net search and joint training of the "
                   "kept sub-nets) | dsnet (DS-Net++: a gate picks the width per input; in-place bootstrapping, "
                   "then gate training) | single (one width alone, the individually-trained reference) "
                   "(default %(default)s)")
    p.add_argument("--epochs", type=int, default=d["epochs"],
                   help="training epochs in all (pss: supernet + joint training) (default %(default)s)")
    p.add_argument("--out", help="run directory (default runs/<data>-<method>)")
    p.add_argument("--seed", type=int, default=d["seed"],
                   help="seed of the data split, initialization and sampling (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="training batch size (default %(default)s)")
    p.add_argument("--lr", type=float, default=d["lr"],
                   help="peak learning rate, cosine schedule (default %(default)s)")
    p.add_argument("--warmup-epochs", type=float, default=d["warmup_epochs"],
                   help="linear learning-rate warm-up over these first epochs, 0 for none (default %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"],
                   help="on conv and linear weights (default %(default)s)")
    p.add_argument("--num-random", type=int, default=d["num_random"],
                   help="random widths per step (sandwich rule) (default %(default)s)")
    p.add_argument("--min-width", type=float, default=d["min_width"], help="smallest width trained (default "
                   "%(default)s)")
    p.add_argument("--widths", type=numbers, default=d["widths"],
                   help=f"widths to ship, recalibrate and report (default {_listed(d['widths'])})")
    p.add_argument("--configs", help="JSON list of extra (non-uniform) configurations to ship")
    p.add_argument("--width", type=float, default=d["width"], help="the width trained by --method single")
    p.add_argument("--granularity", type=int, default=d["granularity"],
                   help="channel step of a group (default %(default)s)")
    p.add_argument("--val-fraction", type=float,
                   help="hold out this share of the training split (the search measures sub-nets on it; dsnet "
                        "trains its gate on it; default 0.15 for pss and dsnet, else 0)")
    p.add_argument("--calib-samples", type=int, default=d["calib_samples"],
                   help="images for BN recalibration (default %(default)s)")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random translation")
    p.add_argument("--teacher", choices=TEACHERS,
                   help="what the distilled sub-nets learn from: the step's largest (live: in-place distillation, "
                        "US-Nets) or an EMA of it (ema: in-place bootstrapping, DS-Net++) (default: ema for usnet, "
                        "dsnet and pss; pss --start full trains its full network alone, then distils from an EMA "
                        "of it)")
    p.add_argument("--ema-decay", type=float, default=d["ema_decay"],
                   help="decay of the EMA teacher (default %(default)s)")
    p.add_argument("--gate-before", help="dsnet: the module the gate sits before (default: the model's, e.g. "
                   "blocks.1 for resnet20); everything before it runs at full width")
    p.add_argument("--complexity-weights", type=numbers, default=d["complexity_weights"],
                   help="dsnet: one gate width head per weight of the expected-MACs term; larger = narrower "
                        f"(default {_listed(d['complexity_weights'])})")
    p.add_argument("--gate-copies", type=int, default=d["gate_copies"],
                   help="dsnet: the held-out images plus shifted copies, this many in all, train the gate "
                        "(default %(default)s)")
    p.add_argument("--device", default=d["device"], choices=DEVICES,
                   help="where training runs (auto: the GPU if there is one)")
    p.add_argument("--resume", action="store_true", help="continue the unfinished run in OUT.partial")
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    _add_search_options(p, for_train=True)
    _json_flag(p, "the result")


def _add_search_options(p, for_train: bool) -> None:
    d = defaults(SearchOptions)
    extra = " (with --method pss)" if for_train else ""
    p.add_argument("--budgets", type=numbers, default=d["budgets"],
                   help=f"cost budgets of the shipped sub-nets{extra} (default {_listed(d['budgets'])})")
    p.add_argument("--unit", default=d["unit"], choices=UNITS,
                   help="budgets as fractions of the full model's cost, MFLOPs, or milliseconds")
    p.add_argument("--latency-table", help="per-layer latency table (JSON) measured on the target device")
    p.add_argument("--threshold", type=float, default=d["threshold"],
                   help="fine-tune when held-out top-1 falls by more than this many points (default %(default)s)")
    p.add_argument("--finetune-epochs", type=float, default=d["finetune_epochs"],
                   help="epochs of each fine-tune during the search, fractions allowed (default 0.25 from the "
                        "full network, 1 from a US-Nets supernet)")
    p.add_argument("--final-epochs", type=int,
                   help="epochs of joint training of the kept sub-nets " + (
                       "(part of --epochs; default 60%% of it)" if for_train else "(default 10)"))
    p.add_argument("--final-lr-scale", type=float, default=d["final_lr_scale"],
                   help="search, and pss with --schedule split: the joint training starts at this fraction of the "
                        "run's learning rate (default %(default)s)")
    p.add_argument("--rank-steps", type=int, default=d["rank_steps"],
                   help="steps of noise-ranking training (default %(default)s)")
    p.add_argument("--full-race-every", type=int, default=d["full_race_every"],
                   help="a search step races every channel group every N steps and after a fine-tune, in between "
                        "the last race's best few (1: every group at every step) (default %(default)s)")
    p.add_argument("--joint", default=d["joint"], choices=JOINTS,
                   help="joint training: besides the largest and smallest kept sub-nets, train two picks from the "
                        "other kept sub-nets (kept) or from the search chain between them (chain) (default "
                        "%(default)s)")
    if for_train:
        p.add_argument("--schedule", default=d["schedule"], choices=SCHEDULES,
                       help="pss: one learning-rate decay over all the epochs that the joint training continues "
                            "(one), or decay to 0 in the first phase and restart the joint training lower (split) "
                            "(default %(default)s)")
        p.add_argument("--start", default=d["start"], choices=STARTS,
                       help="pss: train the full network alone and build the dynamic network as the search "
                            "shrinks it (full), or search a US-Nets supernet (usnet) (default %(default)s)")


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="progressive sub-net search on a trained run",
                       description="Find non-uniform sub-nets for cost budgets, jointly train them, and make them "
                                   "the run's shipped configurations.")
    p.add_argument("run", help="run directory written by edgeslim train")
    _add_search_options(p, for_train=False)
    p.add_argument("--teacher", choices=TEACHERS, help="what the fine-tunes and the joint training distil from: "
                   "the step's full network (live) or an EMA of it (ema) (default: the run's own teacher)")
    p.add_argument("--device", default=defaults(SearchOptions)["device"], choices=DEVICES,
                   help="where the search and joint training run (auto: the GPU if there is one)")
    _json_flag(p, "the result")


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="width / MFLOPs / params / top-1 table of a run",
                       description="Evaluate every shipped configuration of a run (and any extra widths).")
    p.add_argument("run", help="run directory written by edgeslim train")
    p.add_argument("--data", help="dataset to evaluate on (default: the run's own test split)")
    p.add_argument("--widths", help="extra uniform widths to evaluate (BN recalibrated on the fly), e.g. 0.3,0.6")
    p.add_argument("--configs", help="JSON list of extra configurations to evaluate (BN recalibrated on the fly)")
    p.add_argument("--plot", help="write an accuracy-vs-MFLOPs plot to this PNG file")
    _json_flag(p, "the table")


def _add_bundle_commands(sub) -> None:
    d = defaults(BuildOptions)
    p = sub.add_parser("build", help="compile a run's widths into one bundle for a device target",
                       description="Export every shipped width of a run for a target's backends into one bundle "
                                   "(weights stored once; see edgeslim backends).")
    p.add_argument("run", help="run directory written by edgeslim train / search")
    p.add_argument("--target", required=True, help="target profile name (see edgeslim targets) or a .json file")
    p.add_argument("--backends", type=names, help=f"comma-separated subset of {','.join(BACKENDS)} "
                   "(default: the target's)")
    p.add_argument("--precision", help=f"{' | '.join(PRECISIONS)} (a backend without it stores fp32; int8: "
                   "post-training, calibration/int8-ptq.json) (default: the target's)")
    p.add_argument("--input-layout", choices=INPUT_LAYOUTS, help="layout of the image input of TFLite (NHWC: "
                   "[1, H, W, C], as an Android Bitmap gives it; ExecuTorch and Core ML take NCHW) (default: the "
                   "target's)")
    p.add_argument("--calib", help="int8 calibration data (default: the run's own training split)")
    p.add_argument("--out", help="bundle directory (default: RUN-TARGET next to the run)")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip the quick validation against PyTorch")
    p.add_argument("--validation-samples", type=int, default=d["validation_samples"],
                   help="test images of the quick validation (default %(default)s)")
    p.add_argument("--archive", action="store_true", help="also write the bundle as one file, BUNDLE.tar")
    p.add_argument("--force", action="store_true", help="replace an existing bundle directory")
    _json_flag(p, "the manifest summary")
    p = sub.add_parser("validate", help="compare every width of every runnable backend with PyTorch",
                       description="Run every width of every backend available here against the PyTorch sub-net "
                                   "(max |Δ logits|, top-1 agreement); Core ML is checked by its spec.")
    p.add_argument("bundle", help="bundle directory written by edgeslim build")
    p.add_argument("--data", help="dataset (default: the run's own test split)")
    p.add_argument("--samples", type=int, default=0, help="test images to use (default: all)")
    _json_flag(p, "the rows")
    p = sub.add_parser("unpack", help="write a bundle's complete artifacts (for apps that ship them directly)",
                       description="Rebuild each backend's complete artifact from the skeleton and the shared "
                                   "weight blob (e.g. the .pte an Android app loads).")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--out", required=True, help="directory for the artifacts")
    _json_flag(p, "the artifact paths")


def _add_device_commands(sub) -> None:
    d = defaults(ProfileOptions)
    runnable = [name for name, b in BACKENDS.items() if b.engine]
    p = sub.add_parser("profile", help="measure every width of a bundle on this device",
                       description="Measure every width like benchmark_model (first run, warm-up, p50/p90/p99, "
                                   "peak memory, temperature, energy with a meter) in random order; writes "
                                   "profiles/<device>-<backend>.json and its latency table into the bundle.")
    p.add_argument("bundle")
    p.add_argument("--backend", help=f"{' | '.join(runnable)} (default: the first the target lists that runs here)")
    p.add_argument("--runs", type=int, default=d["runs"], help="timed runs per width (default %(default)s)")
    p.add_argument("--warmup", type=int, default=d["warmup"], help="untimed runs per width first (default "
                   "%(default)s)")
    p.add_argument("--threads", type=int, help="interpreter threads (default: the target's)")
    p.add_argument("--meter", help="serial power meter: csv:URL (INA219/INA226 lines) or um:URL (UM24C/25C/34C)")
    p.add_argument("--device-name", help="the device's name in profiles/<device>-<backend>.json (default: the "
                   "board's model)")
    _json_flag(p, "the profile")
    d = defaults(SimulationOptions)
    p = sub.add_parser("simulate", help="replay a telemetry trace against the bundle's latency profile",
                       description="Replay a telemetry trace (throttling as a latency multiplier) against the "
                                   "bundle's measured latency profile: controller vs always-largest, "
                                   "always-smallest and an oracle.")
    p.add_argument("bundle")
    p.add_argument("--trace", required=True, help="trace CSV/JSON (t, temperature_c, throttled, battery_pct, ...), "
                   "or a shipped trace: throttling-ramp, battery-drain")
    p.add_argument("--slo-ms", type=float, help="latency SLO (default: the target profile's)")
    p.add_argument("--fps", type=float, default=d["fps"], help="frame rate of the simulated stream (default "
                   "%(default)s)")
    p.add_argument("--throttle-factor", type=float, default=d["throttle_factor"],
                   help="latency multiplier while throttled (default %(default)s)")
    p.add_argument("--profile", help="which of the bundle's profiles: a device name or <device>-<backend> "
                   "(default: the newest)")
    p.add_argument("--plot", help="write width and latency over time to this PNG (needs matplotlib)")
    _json_flag(p, "the summary")
    p = sub.add_parser("run", help="run a bundle live: the controller picks the width",
                       description="Run the live loop: frames in, width chosen from latency, thermal and battery "
                                   "telemetry, one status line.")
    p.add_argument("bundle")
    p.add_argument("--input", help="DIR of images/.npy, or camera[:N] (default: the bundle's test samples)")
    p.add_argument("--telemetry", help="comma-separated sources, e.g. thermal,cpufreq,replay:trace.csv,"
                                       "um_meter:socket://127.0.0.1:9000 (default: the target's)")
    p.add_argument("--slo-ms", type=float, help="latency SLO (default: the target profile's)")
    p.add_argument("--frames", type=int, help="stop after this many frames")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--backend", help=" | ".join(runnable))
    p.add_argument("--threads", type=int, help="interpreter threads (default: the target's)")
    p.add_argument("--routing", choices=ROUTINGS,
                   help="a gated (dsnet) bundle: the gate picks the width per input under the controller's cap "
                        "(default); cascade: the narrowest width runs, and the controller's width too where it "
                        "is unsure; fixed: the controller's width always runs")
    p.add_argument("--gate-head", help="a gated bundle: which width head decides (e.g. c0p5; default: the bundle's)")
    p.add_argument("--escalate", type=float,
                   help="--routing cascade: the share of inputs escalated, 0-1 (default: the bundle's, chosen at "
                        "training)")
    _json_flag(p, "the summary")


def build_parser() -> argparse.ArgumentParser:
    from edgeslim import __version__

    parser = Parser(prog="edgeslim", description="Slimmable networks for run-time dynamic inference on edge devices.")
    parser.add_argument("--version", action="version", version=f"edgeslim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_train(sub)
    _add_search(sub)
    _add_eval(sub)
    _add_bundle_commands(sub)
    _add_device_commands(sub)
    _json_flag(sub.add_parser("models", help="list built-in models, datasets and training methods"), "the lists")
    _json_flag(sub.add_parser("targets", help="list the device target profiles"), "the profiles")
    _json_flag(sub.add_parser("backends", help="list the backends: artifact, precisions, where each runs"),
               "the table")
    parser.commands = sub.choices
    return parser
