"""The dependency graph between the objects of one set: inferred and explicit edges.

Edges are inferred for a namespaced object whose Namespace is in the set, and for a
custom resource whose CustomResourceDefinition is in the set. Explicit edges come from
the annotation `deployer.dev/depends-on: "Kind/name, Kind/namespace/name"`, where Kind may
carry its API group (`Deployment.apps/grafana`) and a reference without a namespace means
the object's own namespace, or a cluster-scoped object. Kinds match case-insensitively,
and a kind without a group prefers the built-in kind of that name.

The graph stores objects by their position in the input sequence: `edges[i]` lists the
positions that object `i` depends on.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import InputError, PlanError
from deployer.model.objects import Manifest, ObjectRef
from deployer.plan.ranks import EXTENSIONS, is_built_in, is_cluster_scoped

DEPENDS_ON = "depends-on"

ANNOTATION = "deployer.dev/depends-on"

# Why one object depends on another, completing "A depends on B ...".
BY_NAMESPACE = "as its namespace"
BY_CRD = "as its CustomResourceDefinition"
BY_ANNOTATION = f"through {ANNOTATION}"

ObjectKey = tuple[str, str, str | None, str]  # group, kind, namespace, name


def object_label(ref: ObjectRef) -> str:
    """Name an object for messages: `Deployment ns/a`, with the group for custom kinds."""
    kind = ref.kind if is_built_in(ref.group) or not ref.group else f"{ref.kind}.{ref.group}"
    return f"{kind} {ref.namespace}/{ref.name}" if ref.namespace else f"{kind} {ref.name}"


def manifest_label(manifest: Manifest) -> str:
    """Name an object and its source for messages: `Deployment ns/a (a.yaml:3)`."""
    where = f" ({manifest.source})" if manifest.source else ""
    return f"{object_label(manifest.ref)}{where}"


@dataclass(frozen=True)
class Reference:
    """One entry of a depends-on annotation: kind, optional group and namespace, name."""

    text: str
    kind: str
    group: str | None
    namespace: str | None
    name: str


@dataclass
class Graph:
    """Objects by position, the positions each depends on, and why."""

    manifests: Sequence[Manifest]
    edges: list[list[int]]
    reasons: dict[tuple[int, int], str] = field(default_factory=dict)

    def add(self, source: int, target: int, reason: str) -> None:
        if (source, target) not in self.reasons:
            self.edges[source].append(target)
            self.reasons[(source, target)] = reason

    def dependents(self) -> list[list[int]]:
        """Return, for every object, the positions of the objects that depend on it."""
        reverse: list[list[int]] = [[] for _ in self.manifests]
        for source, targets in enumerate(self.edges):
            for target in targets:
                reverse[target].append(source)
        return reverse


def build_graph(manifests: Sequence[Manifest], *, default_namespace: str | None = None) -> Graph:
    """Build the dependency graph and set `depends_on` on every manifest.

    `default_namespace` is the namespace that objects naming none will be applied in.
    Raises InputError for an object defined twice and PlanError for a depends-on
    reference that is invalid, ambiguous or not in the set.
    """
    cluster_kinds = _cluster_scoped_custom_kinds(manifests)
    namespaces = [_namespace_of(m, default_namespace, cluster_kinds) for m in manifests]
    keys = _index_keys(manifests, namespaces)
    graph = Graph(manifests, [[] for _ in manifests])
    _add_inferred_edges(graph, namespaces, keys)
    by_kind_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, manifest in enumerate(manifests):
        by_kind_name[(manifest.kind.lower(), manifest.name)].append(position)
    for position, manifest in enumerate(manifests):
        for reference in parse_depends_on(manifest):
            target = _resolve(reference, position, graph, namespaces, by_kind_name)
            graph.add(position, target, BY_ANNOTATION)
    for position, manifest in enumerate(manifests):
        targets = sorted(graph.edges[position])
        graph.edges[position] = targets
        manifest.depends_on = tuple(manifests[target].ref for target in targets)
    return graph


def _cluster_scoped_custom_kinds(manifests: Sequence[Manifest]) -> set[tuple[str, str]]:
    kinds: set[tuple[str, str]] = set()
    for manifest in manifests:
        crd = _crd_kind(manifest)
        if crd is not None and _spec(manifest).get("scope") == "Cluster":
            kinds.add(crd)
    return kinds


def _crd_kind(manifest: Manifest) -> tuple[str, str] | None:
    """Return the (group, kind) a CustomResourceDefinition defines, or None."""
    if manifest.kind != "CustomResourceDefinition" or manifest.group != EXTENSIONS:
        return None
    spec = _spec(manifest)
    names = spec.get("names")
    if not isinstance(names, Mapping) or not names.get("kind"):
        return None
    return str(spec.get("group", "")), str(names["kind"])


def _spec(manifest: Manifest) -> Mapping[str, Any]:
    spec = manifest.body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _namespace_of(
    manifest: Manifest, default_namespace: str | None, cluster_kinds: set[tuple[str, str]]
) -> str | None:
    """Return the namespace the object lives in, or None if cluster-scoped or not known."""
    kind = (manifest.group, manifest.kind)
    if is_cluster_scoped(*kind) or kind in cluster_kinds:
        return None
    return manifest.namespace or default_namespace


def _index_keys(
    manifests: Sequence[Manifest], namespaces: list[str | None]
) -> dict[ObjectKey, int]:
    """Map each named object to its position; raise InputError on an object defined twice."""
    keys: dict[ObjectKey, int] = {}
    for position, manifest in enumerate(manifests):
        if not manifest.name:
            continue  # generateName objects are new each time and cannot be referenced
        key = (manifest.group, manifest.kind, namespaces[position], manifest.name)
        first = keys.setdefault(key, position)
        if first != position:
            earlier = manifests[first].source
            source = manifest.source
            raise InputError(
                f"{object_label(manifest.ref)} is defined twice (first at "
                f"{earlier or 'an earlier document'}); remove one of the two",
                file=source.file if source else None,
                line=source.line if source and source.line else None,
            )
    return keys


def _add_inferred_edges(
    graph: Graph, namespaces: list[str | None], keys: Mapping[ObjectKey, int]
) -> None:
    crds = {}
    for position, manifest in enumerate(graph.manifests):
        crd = _crd_kind(manifest)
        if crd is not None:
            crds[crd] = position
    for position, manifest in enumerate(graph.manifests):
        namespace = namespaces[position]
        if namespace is not None and manifest.kind != "Namespace":
            target = keys.get(("", "Namespace", None, namespace))
            if target is not None:
                graph.add(position, target, BY_NAMESPACE)
        crd_position = crds.get((manifest.group, manifest.kind))
        if crd_position is not None and crd_position != position:
            graph.add(position, crd_position, BY_CRD)


def parse_depends_on(manifest: Manifest) -> list[Reference]:
    """Parse the depends-on annotation of `manifest`; raise PlanError for a malformed entry."""
    value = manifest.annotation(DEPENDS_ON)
    if not value:
        return []
    references = []
    for text in (part.strip() for part in value.split(",")):
        if not text:
            continue
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise PlanError(
                f"{manifest_label(manifest)}: invalid reference {text!r} in "
                f'{ANNOTATION}; write "Kind/name" or "Kind/namespace/name"'
            )
        kind, _, group = parts[0].partition(".")
        namespace = parts[1] if len(parts) == 3 else None
        references.append(Reference(text, kind, group or None, namespace, parts[-1]))
    return references


def _resolve(
    reference: Reference,
    position: int,
    graph: Graph,
    namespaces: list[str | None],
    by_kind_name: Mapping[tuple[str, str], list[int]],
) -> int:
    """Return the position of the object a reference names; raise PlanError if none or many."""
    manifests = graph.manifests
    candidates = [
        i
        for i in by_kind_name.get((reference.kind.lower(), reference.name), [])
        if reference.group is None or manifests[i].group == reference.group
    ]
    if reference.namespace is not None:
        matches = [i for i in candidates if namespaces[i] == reference.namespace]
    else:
        own = namespaces[position]
        matches = [i for i in candidates if namespaces[i] == own]
        if not matches:
            matches = [i for i in candidates if namespaces[i] is None]
    if len(matches) > 1:
        # As kubectl does for `service/x`, a kind without a group means the built-in kind
        # when one of the matches is built in (core Service over Knative's Service).
        built_in = [i for i in matches if is_built_in(manifests[i].group) or not manifests[i].group]
        matches = built_in if len(built_in) == 1 else matches
    dependent = manifest_label(manifests[position])
    if not matches:
        raise PlanError(
            f"{dependent}: {ANNOTATION} names {reference.text!r}, which is not among the "
            "objects being applied; add that object, fix the reference or remove it"
        )
    if len(matches) > 1:
        found = ", ".join(object_label(manifests[i].ref) for i in matches)
        raise PlanError(
            f"{dependent}: {ANNOTATION} reference {reference.text!r} matches {found}; "
            "add the API group to the kind, as in Kind.group/name"
        )
    if matches[0] == position:
        raise PlanError(f"{dependent}: {ANNOTATION} names the object itself; remove it")
    return matches[0]


def topological_order(graph: Graph) -> list[int]:
    """Return positions with every object after its dependencies; raise PlanError on a cycle."""
    done = [False] * len(graph.manifests)
    on_path = [False] * len(graph.manifests)
    order: list[int] = []
    for start in range(len(graph.manifests)):
        if done[start]:
            continue
        # Iterative depth-first search; `path` contains (position, next edge to follow) pairs.
        path: list[tuple[int, int]] = [(start, 0)]
        on_path[start] = True
        while path:
            node, edge = path[-1]
            targets = graph.edges[node]
            if edge == len(targets):
                path.pop()
                on_path[node] = False
                done[node] = True
                order.append(node)
                continue
            path[-1] = (node, edge + 1)
            target = targets[edge]
            if on_path[target]:
                cycle = [p for p, _ in path]
                raise PlanError(_cycle_message(graph, [*cycle[cycle.index(target) :], target]))
            if not done[target]:
                on_path[target] = True
                path.append((target, 0))
    return order


def _cycle_message(graph: Graph, cycle: list[int]) -> str:
    manifests = graph.manifests
    chain = " -> ".join(object_label(manifests[p].ref) for p in cycle)
    lines = [f"dependency cycle: {chain}"]
    for source, target in itertools.pairwise(cycle):
        reason = graph.reasons[(source, target)]
        lines.append(
            f"  {manifest_label(manifests[source])} depends on "
            f"{object_label(manifests[target].ref)} {reason}"
        )
    lines.append("remove one of these dependencies to break the cycle")
    return "\n".join(lines)
