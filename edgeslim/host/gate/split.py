"""Cut a traced network in two at one tensor: the part up to a gate and the remainder after it.

The cut is the last *single-tensor boundary* before the first layer of a named module (e.g. ``blocks.3``, the
first block of ResNet-20's second stage): a node whose value is the only one that later nodes use. Both halves
are GraphModules over the *same* submodules, so a slimmable network keeps one set of weights and its active
configuration applies to both halves.
"""

from __future__ import annotations

from torch import fx

from edgeslim.errors import EdgeslimError


def _inside(node: fx.Node, module: str) -> bool:
    return node.op == "call_module" and (node.target == module or str(node.target).startswith(module + "."))


def cut_node(gm: fx.GraphModule, before: str) -> fx.Node:
    """The node whose output feeds everything from module ``before`` on (and nothing else crosses the cut)."""
    nodes = list(gm.graph.nodes)
    first = next((i for i, n in enumerate(nodes) if _inside(n, before)), None)
    if first is None:
        raise EdgeslimError(f"gate point: the network has no module '{before}'; pass --gate-before with one of its "
                            "blocks, e.g. blocks.1")
    for i in range(first - 1, -1, -1):
        node = nodes[i]
        if node.op in ("placeholder", "get_attr"):
            break
        later = set(nodes[i + 1:])
        crossing = [n for n in nodes[:i] if n.op not in ("get_attr",) and any(u in later for u in n.users)]
        if not crossing:
            return node
    raise EdgeslimError(f"gate point: no single tensor enters '{before}' (a skip connection crosses it)")


def split_at(gm: fx.GraphModule, before: str) -> tuple[fx.GraphModule, fx.GraphModule]:
    """``(prefix, rest)`` with ``rest(prefix(x)) == gm(x)``; both share ``gm``'s submodules."""
    cut = cut_node(gm, before)
    prefix_graph, rest_graph = fx.Graph(), fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    in_prefix = True
    for node in gm.graph.nodes:
        if in_prefix:
            env[node] = prefix_graph.node_copy(node, env.__getitem__)
            if node is cut:
                prefix_graph.output(env[node])
                env[node] = rest_graph.placeholder("features")
                in_prefix = False
        else:
            env[node] = rest_graph.node_copy(node, env.__getitem__)
    prefix, rest = fx.GraphModule(gm, prefix_graph), fx.GraphModule(gm, rest_graph)
    return prefix, rest


def prefix_layers(gm: fx.GraphModule, before: str) -> list[str]:
    """Names of the modules called before the cut."""
    prefix, _ = split_at(gm, before)
    return [n.target for n in prefix.graph.nodes if n.op == "call_module"]
