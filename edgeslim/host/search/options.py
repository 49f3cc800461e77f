"""Options of `edgeslim search` and of the search inside `train --method pss` (torch-free), checked on
construction."""

from __future__ import annotations

from dataclasses import dataclass

from edgeslim.errors import EdgeslimError, unknown_name

UNITS = ("fraction", "mflops", "ms")
DEVICES = ("auto", "cpu", "cuda")
TEACHERS = ("live", "ema")  # what distilled sub-nets learn from: the step's largest, or an EMA of it
STARTS = ("full", "usnet")  # train --method pss: what the search starts from (see SearchOptions)
SCHEDULES = ("split", "one")  # train --method pss: the learning rate across its phases (see SearchOptions)
JOINTS = ("kept", "chain")  # what the joint training's distilled steps sample (see SearchOptions)
FINETUNE_EPOCHS = {"full": 0.25, "usnet": 1.0}  # per start, when finetune_epochs is None: the full network
# fine-tunes at almost every shrinking step, a US-Nets supernet about once per budget
JOINT_SHARE = 0.6  # train --method pss: share of --epochs given to the joint training when final_epochs is None
# (re-selection before most of the training; bench/reports/pss_cifar10.md measures 0.4 against 0.6)
JOINT_EPOCHS = 10  # a search on a finished run: joint-training epochs when final_epochs is None
FULL_RACE_EVERY = 4  # steps from one race of every group to the next (bench/race_shortlist.py measures it)


@dataclass(frozen=True)
class SearchOptions:
    """``budgets`` in ``unit``; ``final_epochs`` of joint training (None: 60 % of a pss run's epochs, or 10).
    ``start`` (``train --method pss``): ``full`` trains the full network alone and builds the dynamic network as
    the search shrinks it (each fine-tune trains the chain so far); ``usnet`` searches a finished US-Nets
    supernet. ``finetune_epochs`` may be a fraction of an epoch (None: 0.25 from the full network, 1 from a
    US-Nets supernet). ``search`` on a finished run, and ``schedule="split"``, restart the joint training at
    ``final_lr_scale`` of the run's learning rate: it continues from trained weights, so it restarts lower
    (bench/reports/pss_cifar10.md measures it). ``teacher``: what the
    fine-tunes and the joint training distil from, ``live`` (the step's full network) or ``ema`` (an EMA of it);
    None: the run's own teacher (``live`` for a network trained alone; ``train --method pss`` sets its own).
    ``schedule`` (``train --method pss``): ``one`` runs one cosine decay over all the epochs: the first phase stops
    part-way down it and the joint training continues it; ``split`` decays the learning rate to 0 in the first
    phase and restarts the joint training lower (bench/reports/pss_cifar10_mobilenetv2.md measures both).
    ``full_race_every``: every this many steps (and after a fine-tune) a search step races every channel group,
    in between only the last race's best few and the group it shrank (1: every group at every step).
    ``joint``: every joint-training step trains the largest kept sub-net from the labels and the smallest by
    distillation, plus two distilled picks from the other ``kept`` sub-nets, or (``chain``) from every member
    of the search chain between the two: a new pair of nested sub-nets each step, as US-Nets samples widths."""

    budgets: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    unit: str = "fraction"
    latency_table: str | None = None
    threshold: float = 1.0
    finetune_epochs: float | None = None
    final_epochs: int | None = None
    final_lr_scale: float = 0.6
    rank_steps: int = 50
    full_race_every: int = FULL_RACE_EVERY
    schedule: str = "one"
    holdout_fraction: float = 0.15
    device: str = "auto"
    start: str = "full"
    teacher: str | None = None
    joint: str = "kept"
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise unknown_name("unit", self.unit, UNITS)
        if self.unit == "ms" and not self.latency_table:
            raise EdgeslimError("--unit ms needs --latency-table FILE (a per-layer table measured on the device)")
        budgets = self.sorted_budgets
        if not budgets or budgets[0] <= 0 or (self.unit == "fraction" and budgets[-1] > 1):
            raise EdgeslimError(f"--budgets '{self._text()}': fractions must be in (0, 1]")
        for name in ("finetune_epochs", "rank_steps"):
            if (getattr(self, name) or 0) < 0:
                raise EdgeslimError(f"--{name.replace('_', '-')} must be 0 or more (got {getattr(self, name)})")
        if self.full_race_every < 1:
            raise EdgeslimError(f"--full-race-every must be 1 or more (got {self.full_race_every}); 1 races every "
                                "channel group at every step")
        if self.final_epochs is not None and self.final_epochs < 0:
            raise EdgeslimError(f"--final-epochs must be 0 or more (got {self.final_epochs})")
        if self.threshold < 0 or self.final_lr_scale <= 0:
            raise EdgeslimError("--threshold must be ≥ 0 and --final-lr-scale > 0")
        if not 0 < self.holdout_fraction < 0.5:
            raise EdgeslimError(f"holdout_fraction must be in (0, 0.5) (got {self.holdout_fraction})")
        if self.device not in DEVICES:
            raise unknown_name("device", self.device, DEVICES)
        if self.schedule not in SCHEDULES:
            raise unknown_name("schedule", self.schedule, SCHEDULES)
        if self.start not in STARTS:
            raise unknown_name("start", self.start, STARTS)
        if self.joint not in JOINTS:
            raise unknown_name("joint", self.joint, JOINTS)
        if self.teacher is not None and self.teacher not in TEACHERS:
            raise unknown_name("teacher", self.teacher, TEACHERS)

    def _text(self) -> str:
        return ",".join(map(str, self.budgets)) if not isinstance(self.budgets, str) else self.budgets

    @property
    def sorted_budgets(self) -> list[float]:
        try:
            if isinstance(self.budgets, str):
                raise TypeError
            return sorted(float(b) for b in self.budgets)
        except (TypeError, ValueError):
            raise EdgeslimError(f"--budgets '{self._text()}': use numbers, e.g. 0.25,0.5,0.75,1.0") from None

    def finetune_epochs_from(self, start: str) -> float:
        """Epochs of each fine-tune of a search that starts from ``start`` (``full`` or ``usnet``)."""
        return FINETUNE_EPOCHS[start] if self.finetune_epochs is None else self.finetune_epochs

    def joint_epochs(self, total_epochs: int | None = None) -> int:
        """Epochs of joint training: ``final_epochs``, else 60 % of a pss run's ``total_epochs``, else 10."""
        if self.final_epochs is not None:
            return self.final_epochs
        return max(1, round(JOINT_SHARE * total_epochs)) if total_epochs else JOINT_EPOCHS
