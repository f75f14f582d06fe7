"""Group a set of objects into waves: by explicit wave number, then kind rank, then edges.

How explicit waves and kind ranks mix:

1. Every object has a wave number. `deployer.dev/wave: "N"` sets it (any integer,
   negative numbers included). An object without the annotation takes wave 0, moved
   later if it depends on an object in a later wave, or earlier if an object in an earlier
   wave depends on it. Two annotated objects whose numbers contradict a dependency
   between them (directly or through unannotated objects) are a PlanError.
2. All objects of a lower wave number are applied, and ready, before any object of a
   higher one.
3. Inside one wave number, objects go in sub-waves by kind rank (see
   `deployer.plan.ranks`). An object that depends on another object of the same wave
   number moves to a sub-wave after it, even when its rank is lower.

The Plan lists the resulting sub-waves in order as its waves. Deletion goes through the
same waves in reverse, except for CRDs and Namespaces (see `ranks.delete_position`).
"""

from __future__ import annotations

from collections.abc import Sequence

from deployer.errors import InputError, PlanError
from deployer.model.objects import Manifest
from deployer.model.plan import Plan, Wave
from deployer.plan.graph import Graph, build_graph, manifest_label, object_label, topological_order
from deployer.plan.ranks import kind_rank

WAVE = "wave"


def build_plan(manifests: Sequence[Manifest], *, default_namespace: str | None = None) -> Plan:
    """Order `manifests` into waves for applying, and set `depends_on` on each.

    `default_namespace` is the namespace that objects naming none will be applied in.
    Raises InputError for a duplicate object or an invalid wave number and PlanError for
    an unknown reference, a cycle or wave numbers that contradict a dependency.
    """
    graph = build_graph(manifests, default_namespace=default_namespace)
    order = topological_order(graph)
    waves = effective_waves(graph, order)
    ranks = [kind_rank(m.group, m.kind) for m in manifests]
    positions = _positions(graph.edges, order, waves, ranks)
    return _plan(manifests, positions)


def explicit_wave(manifest: Manifest) -> int | None:
    """Return the `deployer.dev/wave` number of `manifest`; raise InputError if not an integer."""
    value = manifest.annotation(WAVE)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        source = manifest.source
        raise InputError(
            f'{object_label(manifest.ref)}: deployer.dev/wave must be an integer such as "2", '
            f"got {value!r}",
            file=source.file if source else None,
            line=source.line if source and source.line else None,
        ) from None


def effective_waves(graph: Graph, order: Sequence[int]) -> list[int]:
    """Return each object's wave number (rule 1 of the module docstring).

    `order` lists every position after its dependencies. Raises PlanError when annotated
    wave numbers contradict a dependency.
    """
    explicit = [explicit_wave(m) for m in graph.manifests]
    count = len(graph.manifests)

    # Lower bounds flow from dependencies to dependents; `lower_from` records which
    # annotated object set each bound, for the message.
    lower: list[int | None] = [None] * count
    lower_from = list(range(count))
    for node in order:
        for target in graph.edges[node]:
            bound = lower[target]
            if bound is None:
                continue
            wave = explicit[node]
            if wave is not None and bound > wave:
                raise PlanError(
                    _contradiction(graph, node, wave, target, lower_from[target], bound)
                )
            current = lower[node]
            if wave is None and (current is None or bound > current):
                lower[node] = bound
                lower_from[node] = lower_from[target]
        if explicit[node] is not None:
            lower[node] = explicit[node]

    # Upper bounds flow from dependents to dependencies. They cannot contradict the lower
    # bounds any more: every contradiction is a path that the loop above has checked.
    upper: list[int | None] = list(explicit)
    dependents = graph.dependents()
    for node in reversed(order):
        if explicit[node] is not None:
            continue
        bounds = [bound for d in dependents[node] if (bound := upper[d]) is not None]
        upper[node] = min(bounds) if bounds else None

    waves = []
    for node in range(count):
        wave = explicit[node]
        if wave is None:
            high, low = upper[node], lower[node]
            wave = 0 if high is None else min(0, high)
            wave = wave if low is None else max(low, wave)
        waves.append(wave)
    return waves


def _contradiction(graph: Graph, node: int, wave: int, target: int, origin: int, bound: int) -> str:
    manifests = graph.manifests
    reason = graph.reasons[(node, target)]
    message = (
        f"{manifest_label(manifests[node])} is in wave {wave} but depends on "
        f"{object_label(manifests[target].ref)} {reason}"
    )
    if origin == target:
        message += f", which is in wave {bound}"
    else:
        message += f", which must come after {manifest_label(manifests[origin])} in wave {bound}"
    return message + "; renumber the deployer.dev/wave annotations or remove the dependency"


def _positions(
    edges: Sequence[Sequence[int]], order: Sequence[int], waves: list[int], ranks: list[int]
) -> list[tuple[int, int]]:
    """Return each object's (wave number, sub-wave) position (rules 2 and 3)."""
    ranks_by_wave: dict[int, set[int]] = {}
    for wave, rank in zip(waves, ranks, strict=True):
        ranks_by_wave.setdefault(wave, set()).add(rank)
    rank_index = {
        wave: {rank: i for i, rank in enumerate(sorted(present))}
        for wave, present in ranks_by_wave.items()
    }
    sub_waves = [0] * len(waves)
    for node in order:
        wave = waves[node]
        sub_wave = rank_index[wave][ranks[node]]
        for target in edges[node]:
            if waves[target] == wave:
                sub_wave = max(sub_wave, sub_waves[target] + 1)
        sub_waves[node] = sub_wave
    return list(zip(waves, sub_waves, strict=True))


def _plan(manifests: Sequence[Manifest], positions: list[tuple[int, int]]) -> Plan:
    by_position: dict[tuple[int, int], list[Manifest]] = {}
    for manifest, position in zip(manifests, positions, strict=True):
        by_position.setdefault(position, []).append(manifest)
    waves = []
    for index, position in enumerate(sorted(by_position)):
        members = sorted(
            by_position[position],
            key=lambda m: (kind_rank(m.group, m.kind), m.kind, m.group, m.namespace or "", m.name),
        )
        waves.append(Wave(index=index, manifests=tuple(members)))
    return Plan(waves=tuple(waves))
