"""Wave invariants over many random dependency graphs, with and without wave numbers."""

from __future__ import annotations

import random

import pytest

from deployer.errors import PlanError
from deployer.model.objects import Manifest, Source
from deployer.plan import build_plan
from deployer.plan.ranks import delete_position, kind_rank

KINDS = [
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("example.com/v1", "Widget"),
]


def random_set(rng: random.Random, size: int) -> tuple[list[Manifest], dict[int, list[int]]]:
    """Build objects where object i may depend on objects with a lower index (no cycles)."""
    manifests = []
    edges: dict[int, list[int]] = {}
    for i in range(size):
        api_version, kind = rng.choice(KINDS)
        targets = sorted(rng.sample(range(i), k=min(i, rng.randint(0, 2))))
        edges[i] = targets
        annotations = {}
        if targets:
            refs = [f"{manifests[t].kind}/o{t}" for t in targets]
            annotations["deployer.dev/depends-on"] = ", ".join(refs)
        if rng.random() < 0.3:
            annotations["deployer.dev/wave"] = str(rng.randint(-2, 2))
        metadata = {"name": f"o{i}", "namespace": "ns", "annotations": annotations}
        body = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
        manifests.append(Manifest(body=body, source=Source("r.yaml", i + 1)))
    return manifests, edges


def wave_number(manifest: Manifest) -> int | None:
    value = manifest.annotation("wave")
    return None if value is None else int(value)


def reachable(edges: dict[int, list[int]], start: int) -> set[int]:
    seen: set[int] = set()
    stack = list(edges[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges[node])
    return seen


def has_contradiction(manifests: list[Manifest], edges: dict[int, list[int]]) -> bool:
    """Return whether an annotated object depends, at any depth, on a higher annotated one."""
    for i, manifest in enumerate(manifests):
        wave = wave_number(manifest)
        if wave is None:
            continue
        for j in reachable(edges, i):
            other = wave_number(manifests[j])
            if other is not None and other > wave:
                return True
    return False


@pytest.mark.parametrize("seed", range(60))
def test_random_sets_keep_wave_invariants(seed: int) -> None:
    rng = random.Random(seed)
    manifests, edges = random_set(rng, rng.randint(1, 14))
    contradiction = has_contradiction(manifests, edges)

    try:
        plan = build_plan(manifests)
    except PlanError:
        assert contradiction, "PlanError without contradicting wave numbers"
        return
    assert not contradiction, "contradicting wave numbers were accepted"

    index = {m.name: w.index for w in plan.waves for m in w.manifests}
    assert len(index) == len(manifests)
    for i, targets in edges.items():
        for j in targets:
            assert index[f"o{i}"] > index[f"o{j}"], f"o{i} is not after its dependency o{j}"
    for a in manifests:
        for b in manifests:
            wave_a, wave_b = wave_number(a), wave_number(b)
            if wave_a is not None and wave_b is not None and wave_a < wave_b:
                assert index[a.name] < index[b.name], f"{a.name} is not before {b.name}"


@pytest.mark.parametrize("seed", range(30))
def test_random_sets_without_edges_follow_ranks(seed: int) -> None:
    rng = random.Random(1000 + seed)
    manifests, _ = random_set(rng, rng.randint(1, 12))
    for manifest in manifests:
        manifest.body["metadata"]["annotations"] = {}

    plan = build_plan(manifests)

    ranks = [{kind_rank(m.group, m.kind) for m in wave.manifests} for wave in plan.waves]
    assert all(len(wave_ranks) == 1 for wave_ranks in ranks)
    assert [r.pop() for r in ranks] == sorted({kind_rank(m.group, m.kind) for m in manifests})


@pytest.mark.parametrize("seed", range(30))
def test_random_sets_delete_dependents_first(seed: int) -> None:
    rng = random.Random(2000 + seed)
    manifests, edges = random_set(rng, rng.randint(1, 14))
    if has_contradiction(manifests, edges):
        return

    plan = build_plan(manifests)

    position = {
        m.name: delete_position(m.group, m.kind, w.index) for w in plan.waves for m in w.manifests
    }
    for i, targets in edges.items():
        for j in targets:
            assert position[f"o{i}"] < position[f"o{j}"], f"o{i} is not deleted before o{j}"
