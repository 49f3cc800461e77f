"""Progressive sub-net search: ranking, reordering, the nested chain, re-selection, the CLI end to end."""

import copy
import json
import shutil

import numpy as np
import pytest
import torch
from conftest import run_cli
from safetensors.torch import load_file

from edgeslim.errors import EdgeslimError
from edgeslim.host.data import load_dataset
from edgeslim.host.models import build_supernet
from edgeslim.host.nn import count_cost
from edgeslim.host.runs import load_run
from edgeslim.host.search.costs import layer_mmacs, mflops_cost
from edgeslim.host.search.pipeline import kept_sandwich
from edgeslim.host.search.progressive import (
    MIN_CHUNK,
    RACE_CHUNKS,
    ChainEntry,
    HeldOut,
    Shortlist,
    progressive_search,
    race,
    shrink_candidates,
    shrink_step,
)
from edgeslim.host.search.ranking import rank_blocks
from edgeslim.host.search.reselect import holdout_margin, pareto_front, read_by_reselect, reselect
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.host.train.methods import Step
from edgeslim.host.train.steps import Batches, fit, set_cosine_lr
from edgeslim.subnets import ChannelGroup, SubnetConfig


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    result = run_cli("train", "--data", "digits", "--epochs", "3", "--batch-size", "128", "--calib-samples", "256",
                     "--val-fraction", "0.15", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_permuting_channels_keeps_the_full_network_function():
    torch.manual_seed(0)
    supernet = build_supernet("mobilenetv2", (3, 16, 16), 5)
    for m in supernet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
            m.weight.data.normal_()
    supernet.eval()
    x = torch.randn(2, 3, 16, 16)
    expected = supernet(x)
    supernet.permute_channels({g.name: torch.randperm(g.channels) for g in supernet.space.groups})
    torch.testing.assert_close(supernet(x), expected, rtol=1e-4, atol=1e-5)


def test_noise_ranking_puts_a_dead_block_last():
    torch.manual_seed(0)
    data = load_dataset("digits")
    supernet = build_supernet("resnet20", data.input_shape, data.num_classes)
    group = next(g for g in supernet.space.groups if g.name == "blocks.6.conv2")  # the 64-channel stage
    modules = dict(supernet.net.named_modules())
    for name, layer in supernet.channels.items():  # silence the group's first block in every batch norm
        if [s.group for s in layer.cols] == [group.name] and isinstance(modules[name], torch.nn.BatchNorm2d):
            modules[name].weight.data[:group.granularity] = 0
            modules[name].bias.data[:group.granularity] = 0
    supernet.recalibrate_bn(supernet.space.largest(), [torch.from_numpy(data.normalize(data.x_train[:256]))])
    orders = rank_blocks(supernet, Batches(data, 64, False), steps=60, show_progress=False)
    order = orders[group.name]
    assert sorted(order.tolist()) == list(range(group.channels))
    assert set(order[-group.granularity:].tolist()) == set(range(group.granularity))


def test_chain_is_nested_and_fine_tunes_past_the_threshold(trained_run):
    run = load_run(trained_run)
    supernet = run.supernet
    data = load_dataset("digits", 0)
    x_train, y_train, x_val, y_val = data.holdout(0.15, 0)
    held_out = HeldOut(supernet, data.normalize(x_val), y_val)
    full = count_cost(supernet, supernet.space.largest()).mflops
    calls = []
    chain = progressive_search(supernet, held_out, lambda c: count_cost(supernet, c).mflops, 0.6 * full,
                               threshold=-100.0, finetune=lambda configs: calls.append(len(configs)),
                               show_progress=False)
    costs = [e.cost for e in chain.entries]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) == len(costs)
    assert costs[-1] <= 0.6 * full < costs[-2]
    for bigger, smaller in zip(chain.entries, chain.entries[1:]):
        assert all(smaller.config.channels[g] <= bigger.config.channels[g] for g in bigger.config.channels)
        assert sum(bigger.config.channels.values()) - sum(smaller.config.channels.values()) in {
            g.granularity for g in supernet.space.groups}
    assert calls == list(range(2, len(chain.entries) + 1))  # threshold -100: a fine-tune after every step
    assert chain.finetunes == list(range(1, len(chain.entries)))


def test_a_search_step_removes_an_eighth_of_a_wide_group_and_one_block_of_a_narrow_one():
    wide, narrow = ChannelGroup("head", 1280, 8), ChannelGroup("stage1", 16, 8)
    assert [shrink_step(wide, c) for c in (1280, 1120, 160, 16, 8)] == [1120, 960, 8, 8, None]
    assert [shrink_step(narrow, c) for c in (16, 8)] == [8, None]
    assert shrink_step(ChannelGroup("expand", 144, 8), 144) == 120  # 18 channels less, rounded to whole blocks
    supernet = build_supernet("mobilenetv2", (3, 32, 32), 10)
    full = supernet.space.largest()
    for candidate in shrink_candidates(supernet, full):  # one group changed per candidate, by one step
        changed = {g.name: g for g in supernet.space.groups if candidate.channels[g.name] != full.channels[g.name]}
        assert len(changed) == 1
        (name, group), = changed.items()
        assert candidate.channels[name] == shrink_step(group, group.channels)


def test_held_out_measures_a_candidate_in_one_pass_as_recalibrated_statistics_would(trained_run):
    supernet = load_run(trained_run).supernet
    data = load_dataset("digits", 0)
    x_train, _, x_val, y_val = data.holdout(0.15, 0)
    x_val = data.normalize(x_val)
    held_out = HeldOut(supernet, x_val, y_val)
    config = SubnetConfig("narrow", {g.name: g.choices()[len(g.choices()) // 2] for g in supernet.space.groups})
    supernet.train()
    top1, loss = held_out(config)
    assert supernet.training and held_out.calls == 1 and held_out.seconds > 0
    supernet.recalibrate_bn(config, [torch.from_numpy(data.normalize(x_train[:512]))])
    supernet.eval()
    with torch.no_grad():
        logits = supernet(torch.from_numpy(x_val))
    assert abs(loss - float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y_val)))) < 0.1
    assert abs(top1 - 100 * float((logits.argmax(1).numpy() == y_val).mean())) < 3
    with pytest.raises(EdgeslimError, match="held-out split has 20 images"):
        HeldOut(supernet, x_val[:20], y_val[:20])


def test_held_out_completes_a_configuration_raced_on_its_first_chunk_without_measuring_it_again(trained_run):
    supernet = load_run(trained_run).supernet
    data = load_dataset("digits", 0)
    x, y = data.normalize(data.x_train), data.y_train
    config = SubnetConfig("narrow", {g.name: g.choices()[len(g.choices()) // 2] for g in supernet.space.groups})
    held_out = HeldOut(supernet, x, y)
    assert len(held_out.bounds) == RACE_CHUNKS and held_out.bounds[-1][1] == len(y)
    assert len(HeldOut(supernet, x, y, race_chunks=3).bounds) == 3
    assert len(HeldOut(supernet, x[:200], y[:200]).bounds) == 200 // MIN_CHUNK  # no chunk below MIN_CHUNK images
    first = held_out(config, chunks=1)
    assert held_out.images == held_out.bounds[0][1] < len(y)
    whole = held_out(config)
    assert held_out.images == len(y) and held_out.calls == 1 and first != whole
    assert whole == pytest.approx(HeldOut(supernet, x, y)(config))  # the same as measured in one go
    held_out.forget()  # the weights changed: measured again
    held_out(config)
    assert held_out.images == 2 * len(y)


class _InplaceNet(torch.nn.Module):
    """A user's net whose in-place residual add changes the stem's output, which a candidate reads."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                                        torch.nn.ReLU(inplace=True))
        self.conv = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.BatchNorm2d(32),
                                        torch.nn.ReLU(inplace=True), torch.nn.Conv2d(32, 16, 1))
        self.act = torch.nn.ReLU(inplace=True)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, x):
        x = self.stem(x)
        x.add_(self.conv(x))
        return self.head(self.act(x).mean((2, 3)))


@pytest.mark.parametrize("model", ["mobilenetv2", "resnet20", "densenet121", "mobilenetv3_small", "inplace"])
def test_candidates_raced_from_their_first_changed_layer_score_exactly_as_a_full_pass(model):
    torch.manual_seed(0)
    supernet = build_supernet(_InplaceNet() if model == "inplace" else model, (3, 16, 16), 5)
    x, y = torch.randn(200, 3, 16, 16).numpy(), np.arange(200) % 5  # two chunks
    parent = SubnetConfig("parent", {g.name: shrink_step(g, g.channels) or g.channels for g in supernet.space.groups})
    candidates = shrink_candidates(supernet, parent)
    candidates = candidates[::-(-len(candidates) // 12)]  # a dozen, from the first group to the last
    full = HeldOut(supernet, x, y)
    expected = [full(c, chunks=1) for c in candidates]
    shared = HeldOut(supernet, x, y)
    shared.share_prefix(parent)
    first = next(m for m in supernet.net.modules() if isinstance(m, torch.nn.Conv2d))
    calls = []
    first.register_forward_hook(lambda *_: calls.append(1))
    assert [shared(c, chunks=1) for c in candidates] == expected  # bitwise: the same operations on the same values
    assert len(calls) < len(candidates)  # candidates of later groups skipped the first layers
    assert shared(candidates[-1]) == full(candidates[-1])  # its other chunk: a full pass (no values kept there)


@pytest.mark.parametrize("model", ["mobilenetv2", "resnet20", "inplace"])
def test_a_chain_raced_from_kept_values_measures_exactly_as_full_passes(model):
    torch.manual_seed(0)
    supernet = build_supernet(_InplaceNet() if model == "inplace" else model, (3, 16, 16), 5)
    x, y = torch.randn(300, 3, 16, 16).numpy(), np.arange(300) % 5  # three chunks
    cost = mflops_cost(supernet)
    first = next(m for m in supernet.net.modules() if isinstance(m, torch.nn.Conv2d))
    chains, measured, first_layer_runs = [], [], []
    for shared in (False, True):
        held_out, parent = HeldOut(supernet, x, y, shared=shared), supernet.space.largest()
        entry, chain, runs = ChainEntry(parent, cost(parent), *held_out(parent)), [], []
        hook = first.register_forward_hook(lambda *_, runs=runs: runs.append(1))
        for _ in range(4):
            candidates = [(c, cost(c)) for c in shrink_candidates(supernet, entry.config)]
            config, c_cost = race(held_out, entry, candidates)
            entry = ChainEntry(config, c_cost, *held_out(config))
            chain.append(config.channels)
        hook.remove()
        chains.append(chain)
        measured.append(dict(held_out.done))
        first_layer_runs.append(len(runs))
    assert chains[0] == chains[1]
    assert measured[0] == measured[1]  # every chunk of every candidate: bitwise the same
    assert sorted(held_out.prefix.references) == [0, 1, 2]  # the parent's values on every chunk: its kept ones
    assert first_layer_runs[1] < first_layer_runs[0]


def test_shortlist_races_the_last_best_groups_and_the_shrunk_one_between_full_races():
    torch.manual_seed(0)
    supernet = build_supernet("resnet20", (3, 16, 16), 5)
    held_out = HeldOut(supernet, torch.randn(100, 3, 16, 16).numpy(), np.arange(100) % 5)
    cost = mflops_cost(supernet)
    shortlist, largest = Shortlist(top=2, every=3), supernet.space.largest()
    entry = ChainEntry(largest, cost(largest), *held_out(largest))
    raced_per_step = []
    for step in range(5):
        if step == 4:
            shortlist.forget()  # the weights changed
        candidates = [(c, cost(c)) for c in shrink_candidates(supernet, entry.config)]
        raced = shortlist(entry, candidates)
        raced_per_step.append(len(raced))
        if len(raced) < len(candidates):
            groups = {next(g for g in c.channels if c.channels[g] != entry.config.channels[g]) for c, _ in raced}
            assert groups == {*shortlist.order[:2], shortlist.shrunk}
        chosen, c_cost = race(held_out, entry, raced)
        shortlist.update(held_out, entry, raced, chosen)
        entry = ChainEntry(chosen, c_cost, *held_out(chosen))
    full = len(supernet.space.groups)
    assert raced_per_step[0] == raced_per_step[3] == raced_per_step[4] == full
    assert raced_per_step[1] <= 3 and raced_per_step[2] <= 3


def _entry(cost, top1):
    return ChainEntry(SubnetConfig(f"c{cost}", {"g": int(cost * 10)}), cost, top1, 0.0)


def test_joint_training_over_the_chain_draws_a_new_pair_between_the_smallest_and_largest_kept_each_step():
    kept = [SubnetConfig(f"p{i}", {"g": 4 * i}) for i in (1, 2, 4)]
    between = [SubnetConfig(f"chain{i}", {"g": i}) for i in range(5, 16)]
    rng = np.random.default_rng(0)
    for plan, pool in ((kept_sandwich(kept), kept[1:2]), (kept_sandwich(kept, between), between)):
        drawn = [plan(rng) for _ in range(200)]
        for steps in drawn:
            assert [(s.config.name, s.distill) for s in steps[:2]] == [("p4", False), ("p1", True)]
            assert all(s.distill and s.config in pool for s in steps[2:])
            assert len({s.config.name for s in steps[2:]}) == len(steps[2:]) == min(2, len(pool))
        assert {s.config.name for steps in drawn for s in steps[2:]} == {c.name for c in pool}


def test_reselection_prefers_better_neighbours_and_keeps_every_budget():
    chain = [_entry(10, 90), _entry(9.5, 91), _entry(9, 89), _entry(6, 85), _entry(5, 86), _entry(4.9, 80),
             _entry(2.5, 70), _entry(2.4, 71)]
    assert pareto_front(chain) == {1, 2, 4, 5, 7}
    picked = reselect(chain, [2.5, 5, 10])
    assert [s.entry.cost for s in picked] == [2.4, 5, 9.5]  # the better neighbour within 10% of each budget
    picked = reselect(chain, [2.5, 2.5, 10])
    assert [s.entry.cost for s in picked] == [2.4, 2.5, 9.5]  # a taken sub-net is not reused
    with pytest.raises(EdgeslimError, match="below the smallest free sub-net"):
        reselect(chain, [1.0])
    picked = reselect(chain, [2.5, 5, 10], margin=holdout_margin(90, 100))  # 3 points: the nearest stay
    assert [s.entry.cost for s in picked] == [2.5, 5, 10]
    picked = reselect(chain, [2.5, 5, 10], margin=holdout_margin(90, 10_000))  # 0.3 points: better ones win
    assert [s.entry.cost for s in picked] == [2.4, 5, 9.5]


def test_reselection_reads_only_the_entries_within_a_budgets_window():
    rng = np.random.default_rng(0)
    for _ in range(300):
        costs = np.sort(rng.uniform(1, 10, rng.integers(5, 40)))[::-1]
        chain = [ChainEntry(SubnetConfig(f"c{i}", {"g": i}), float(c), float(rng.uniform(40, 60)), 0.0)
                 for i, c in enumerate([10.0, *costs])]
        budgets = sorted(rng.uniform(1.5, 10, rng.integers(1, 5)))  # sometimes within 10 % of each other
        margin = float(rng.choice([0.0, 1.0]))
        read = read_by_reselect(chain, budgets)
        try:
            expected = [s.position for s in reselect(chain, budgets, margin=margin)]
        except EdgeslimError:
            continue
        for entry in (e for i, e in enumerate(chain) if i not in read):  # top-1 from other weights
            entry.val_top1 = float(rng.uniform(0, 100))
        assert [s.position for s in reselect(chain, budgets, margin=margin)] == expected
    assert len(read) < len(chain)


def test_search_cli_rewrites_the_run_with_budgeted_subnets(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    result = run_cli("search", str(run_dir), "--budgets", "0.5,1.0", "--final-epochs", "1", "--rank-steps", "20",
                     "--joint", "chain", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["method"] == "pss" and [c["name"] for c in info["configs"]] == ["p050", "p100"]
    full = info["search"]["full_cost"]
    for config, budget in zip(info["configs"], (0.5, 1.0)):
        assert config["meta"]["mflops"] <= budget * full + 5e-4  # meta rounds to 3 decimals
    assert summary["search"]["finetunes"] == info["search"]["finetunes"] >= 0
    assert info["search"]["full_race_every"] == 4 and info["search"]["joint"] == "chain"
    assert len(info["search"]["chain"]) > 5 and len(info["before_search"]) == 4
    tensors = load_file(run_dir / "model.safetensors")
    assert {k.split(".")[1] for k in tensors if k.startswith("bn.")} == {"p050", "p100"}
    evaluated = json.loads(run_cli("eval", str(run_dir), "--json").stdout)["configs"]
    assert [e["top1"] for e in evaluated] == [c["meta"]["top1"] for c in info["configs"]]
    assert not list(tmp_path.glob("run.*"))  # no temporary directories left behind


def test_latency_budgets_from_a_per_layer_table(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    supernet = load_run(run_dir).supernet
    layers = {name: {"fixed_ms": 0.01, "ms_per_mmac": 2.0} for name in layer_mmacs(supernet, supernet.space.largest())}
    table = tmp_path / "latency.json"
    table.write_text(json.dumps({"format": "edgeslim-latency/1", "device": "test", "layers": layers}))
    full_ms = sum(0.01 + 2.0 * m for m in layer_mmacs(supernet, supernet.space.largest()).values())
    budget = round(0.7 * full_ms, 3)
    result = run_cli("search", str(run_dir), "--unit", "ms", "--latency-table", str(table), "--budgets",
                     f"{budget},{full_ms + 1}", "--final-epochs", "0", "--rank-steps", "0", "--json")
    assert result.returncode == 0, result.stderr
    configs = json.loads(result.stdout)["configs"]
    assert configs[0]["name"] == f"p{budget:g}ms" and configs[0]["meta"]["latency_ms"] <= budget

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "edgeslim-latency/1", "layers": {"stem.0": layers["stem.0"]}}))
    cases = [(["--unit", "ms"], "--unit ms needs --latency-table"),
             (["--unit", "ms", "--latency-table", str(bad)], "bad.json: no entry for layer"),
             (["--budgets", "0.001"], "below the smallest sub-net of this model"),
             (["--budgets", "0.5,2"], "fractions must be in (0, 1]"),
             (["--full-race-every", "0"], "--full-race-every must be 1 or more (got 0)")]
    for args, message in cases:
        result = run_cli("search", str(run_dir), "--rank-steps", "0", "--final-epochs", "0", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_train_method_pss_runs_all_stages(tmp_path):
    out = tmp_path / "pss"
    result = run_cli("train", "--method", "pss", "--start", "usnet", "--epochs", "3", "--final-epochs", "1",
                     "--budgets", "0.6,1.0", "--rank-steps", "10", "--batch-size", "128", "--calib-samples", "256",
                     "--schedule", "split", "--out", str(out), "--json")  # the default teacher from US-Nets: ema
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["method"] == "pss" and info["options"]["val_fraction"] == 0.15 and info["options"]["epochs"] == 2
    assert info["options"]["teacher"] == "ema" and info["search"]["teacher"] == "ema"
    assert info["search"]["schedule"] == "split" and info["options"]["lr_until"] == 1.0
    assert [c["name"] for c in info["configs"]] == ["p060", "p100"]
    assert np.isfinite([c["meta"]["top1"] for c in info["configs"]]).all()


def test_one_schedule_decays_the_learning_rate_once_across_the_first_phase_and_the_joint_training():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    rates = []
    for total, span in ((54 * 6, (0.0, 0.4)), (63 * 9, (0.4, 1.0))):  # 6 of 15 epochs on 85 % of the split, 9 on all
        for step in range(total):
            set_cosine_lr(optimizer, 0.1, step, total, span)
            rates.append(optimizer.param_groups[0]["lr"])
    drops = -np.diff(rates)
    assert rates[0] == 0.1 and rates[-1] < 1e-5 and (drops >= 0).all()  # one decay, never raised again
    assert drops[54 * 6 - 1] < 2 * drops.max()  # the joint training starts where the first phase stopped


def test_pss_by_default_builds_the_dynamic_network_from_the_full_network_trained_alone(tmp_path):
    out = tmp_path / "pss"
    result = run_cli("train", "--method", "pss", "--epochs", "3", "--final-epochs", "1",  # the default start
                     "--budgets", "0.6,1.0", "--rank-steps", "10", "--threshold", "0",
                     "--batch-size", "128", "--calib-samples", "256", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "run.json").read_text())
    search = info["search"]
    assert info["method"] == "pss" and info["options"]["method"] == "single" and search["start"] == "full"
    assert search["schedule"] == "one" and info["options"]["lr_until"] == pytest.approx(2 / 3)  # the default
    assert info["before_search"][0]["name"] == "w100" and len(info["before_search"]) == 1
    assert search["finetunes"] >= 1 and search["finetune_epochs"] == 0.25
    assert search["candidates"] > len(search["chain"])  # every step measured several candidates
    seconds = search["seconds"]
    assert 0 < seconds["candidates"] + seconds["finetunes"] <= seconds["chain"] + 1
    assert [b["name"] for b in search["before_joint"]] == [c["name"] for c in info["configs"]] == ["p060", "p100"]

    assert search["teacher"] == "ema"  # the default: the search distils from an EMA of the full network
    live = run_cli("train", "--method", "pss", "--teacher", "live", "--epochs", "2", "--final-epochs", "1",
                   "--budgets", "0.6,1.0", "--rank-steps", "5", "--batch-size", "128", "--calib-samples", "256",
                   "--out", str(tmp_path / "live"), "--json")
    assert live.returncode == 0, live.stderr
    info = json.loads((tmp_path / "live" / "run.json").read_text())
    assert info["options"]["method"] == "single" and info["search"]["teacher"] == "live"


def test_fit_runs_a_fraction_of_an_epoch():
    data = load_dataset("digits")
    supernet = build_supernet("resnet20", data.input_shape, data.num_classes)
    batches = Batches(data, 64, False, data.x_train[:256], data.y_train[:256])  # 4 steps an epoch
    calls = []

    def plan(rng):
        calls.append(1)
        return [Step(supernet.space.largest(), False)]

    for epochs, steps in ((0.5, 2), (1.5, 6), (0, 0)):
        calls.clear()
        fit(supernet, batches, plan, epochs, 0.05, 5e-4, 0, "fit", show_progress=False)
        assert len(calls) == steps


def test_fit_gives_the_same_weights_from_the_same_seed_whatever_the_global_rng():
    data = load_dataset("digits")
    supernet = build_supernet("mobilenetv2", data.input_shape, data.num_classes)  # dropout before its classifier
    batches = Batches(data, 64, False, data.x_train[:128], data.y_train[:128])
    start = copy.deepcopy(supernet.state_dict())

    def plan(rng):
        return [Step(supernet.space.largest(), False)]

    weights = []
    for global_seed in (1, 2):
        supernet.load_state_dict(start)
        torch.manual_seed(global_seed)  # what came before in the process
        fit(supernet, batches, plan, 1, 0.05, 5e-4, 0, "fit", show_progress=False)
        weights.append(copy.deepcopy(supernet.state_dict()))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in start)


@pytest.mark.slow
def test_pss_resumes_a_run_killed_during_its_search_and_refuses_single_width_runs(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)  # a finished supernet phase, as left by a kill during the search
    args = ["train", "--method", "pss", "--start", "usnet", "--epochs", "4", "--final-epochs", "1", "--budgets",
            "0.6,1.0", "--rank-steps", "0", "--batch-size", "128", "--calib-samples", "256", "--out", str(run_dir)]
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    assert "finished its supernet training; searching" in result.stderr
    assert json.loads((run_dir / "run.json").read_text())["method"] == "pss"
    again = run_cli(*args, "--resume")
    assert again.returncode == 2 and "already complete" in again.stderr

    single = tmp_path / "single"
    assert run_cli("train", "--method", "single", "--width", "0.5", "--epochs", "1", "--calib-samples", "128",
                   "--out", str(single)).returncode == 0
    result = run_cli("search", str(single))
    assert result.returncode == 2 and "search needs a slimmable supernet" in result.stderr


def test_fit_distils_from_an_ema_teacher_that_follows_the_live_weights():
    torch.manual_seed(0)
    data = load_dataset("digits")
    supernet = build_supernet("resnet20", data.input_shape, data.num_classes)
    without = copy.deepcopy(supernet)
    teacher = EmaTeacher(supernet, 0.9, supernet.space.largest())
    start = [p.clone() for p in teacher.model.parameters()]
    batches = Batches(data, 64, False, data.x_train[:256], data.y_train[:256])
    smallest = supernet.space.uniform(0.25)

    def plan(rng):
        return [Step(supernet.space.largest(), False), Step(smallest, True)]

    fit(supernet, batches, plan, 1, 0.05, 5e-4, 0, "fit", show_progress=False, teacher=teacher)
    fit(without, batches, plan, 1, 0.05, 5e-4, 0, "fit", show_progress=False)
    assert teacher.updates == len(batches)
    live, ema = list(supernet.parameters()), list(teacher.model.parameters())
    assert max(float((e - s).abs().max()) for e, s in zip(ema, start)) > 0  # it followed the live weights,
    assert max(float((e - p).abs().max()) for e, p in zip(ema, live)) > 0  # behind them,
    assert max(float((a - b).abs().max()) for a, b in zip(live, without.parameters())) > 1e-6  # and taught
