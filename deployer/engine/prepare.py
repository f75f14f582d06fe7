"""Before the first write: default namespaces, then a server-side dry run of every object.

The dry run sends each object with `dryRun=All` in parallel. Objects whose Namespace or
CustomResourceDefinition is created by an earlier wave of the same plan cannot be judged
yet, so their NotFound or unknown-kind errors are expected and skipped. Any other
rejection becomes a Problem, and all problems are raised together as ValidationError.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deployer.cluster import Cluster, statuses
from deployer.errors import ApiError, ConflictError, ImmutableFieldError, Problem, ValidationError
from deployer.model.objects import Manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedNames:
    """Namespaces and custom kinds that the plan itself creates."""

    namespaces: frozenset[str]
    custom_kinds: dict[tuple[str, str], bool]  # (group, kind) -> namespaced, from CRDs in the set

    @classmethod
    def of(cls, manifests: Iterable[Manifest]) -> PlannedNames:
        namespaces: set[str] = set()
        kinds: dict[tuple[str, str], bool] = {}
        for manifest in manifests:
            if manifest.kind == "Namespace" and manifest.group == "":
                namespaces.add(manifest.name)
            elif manifest.kind == "CustomResourceDefinition":
                spec = manifest.body.get("spec") or {}
                kind = str((spec.get("names") or {}).get("kind") or "")
                kinds[(str(spec.get("group") or ""), kind)] = spec.get("scope") != "Cluster"
        return cls(frozenset(namespaces), kinds)


def with_namespace(manifest: Manifest, namespace: str | None) -> Manifest:
    """Return a copy of `manifest` whose metadata.namespace is `namespace` (removed if None)."""
    metadata = dict(manifest.metadata)
    if namespace is None:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    return Manifest(
        body={**manifest.body, "metadata": metadata},
        source=manifest.source,
        depends_on=manifest.depends_on,
    )


def resolve_namespaces(
    cluster: Cluster, manifests: Sequence[Manifest], default_namespace: str
) -> list[Manifest]:
    """Give namespaced objects without a namespace the default one, and drop it elsewhere.

    Scope comes from discovery, or from a CRD in the same set for its custom resources.
    Kinds known to neither keep their metadata as written; the dry run reports them.
    """
    planned = PlannedNames.of(manifests)
    resolved: list[Manifest] = []
    for manifest in manifests:
        info = cluster.find_resource(manifest.api_version, manifest.kind)
        namespaced = (
            info.namespaced if info else planned.custom_kinds.get((manifest.group, manifest.kind))
        )
        if namespaced is True and not manifest.namespace:
            manifest = with_namespace(manifest, default_namespace)
        elif namespaced is False and manifest.namespace:
            # NOTE: like kubectl, a namespace on a cluster-scoped object is ignored.
            manifest = with_namespace(manifest, None)
        resolved.append(manifest)
    return resolved


def send(cluster: Cluster, manifest: Manifest, *, force: bool, dry_run: bool) -> dict[str, Any]:
    """Apply one manifest (or create it when it has only generateName)."""
    if not manifest.name and manifest.generate_name:
        return cluster.create(manifest.body, dry_run=dry_run)
    return cluster.apply(manifest.body, force=force, dry_run=dry_run)


def _expected_miss(manifest: Manifest, error: ApiError, planned: PlannedNames) -> bool:
    if error.reason == "NoKindMatch":
        return (manifest.group, manifest.kind) in planned.custom_kinds
    if error.status == 404 and manifest.namespace in planned.namespaces:
        return True
    return isinstance(error, ImmutableFieldError) and manifest.annotation("recreate") == "true"


def _problem(manifest: Manifest, error: ApiError) -> Problem:
    text = str(error)
    prefix = f"{manifest.ref.kind} "
    if text.startswith(prefix) and ": " in text:
        text = text.split(": ", 1)[1]
    return Problem(object=manifest.describe(), path="", message=text)


def _server_failure(error: ApiError) -> bool:
    """Tell whether the server or the connection failed, rather than the object being invalid."""
    if error.reason == statuses.INVALID:
        return False
    return error.status is None or error.status >= 500 or error.status == 0


def dry_run_all(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    force: bool,
    parallelism: int,
    skip: Callable[[Manifest], bool] = lambda _m: False,
    known: Sequence[Problem] = (),
) -> dict[int, str]:
    """Dry-run every manifest; raise ValidationError if any is invalid.

    `known` are problems found before the dry run. When there are any, every dry-run
    failure, conflicts and server errors included, joins them in one ValidationError,
    so the user sees all problems at once.

    Returns the resourceVersion of each dry-run response ("" for a new object) by manifest
    index. Only that is kept because 5,000 full dry-run bodies would double the memory use.

    A conflict with another field manager (ConflictError) or a change to an immutable
    field (ImmutableFieldError) is raised as such after the dry run, since the object
    itself is valid.
    """
    planned = PlannedNames.of(manifests)

    def check(index: int) -> tuple[int, str | ApiError | None]:
        manifest = manifests[index]
        if skip(manifest):
            return index, None
        try:
            response = send(cluster, manifest, force=force, dry_run=True)
            return index, str((response.get("metadata") or {}).get("resourceVersion") or "")
        except ApiError as error:
            if _expected_miss(manifest, error, planned):
                log.debug("dry run of %s skipped: %s", manifest.ref, error)
                return index, None
            return index, error

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        outcomes = list(pool.map(check, range(len(manifests))))

    responses: dict[int, str] = {}
    problems: list[Problem] = []
    conflicts: list[ApiError] = []
    for index, outcome in outcomes:
        if isinstance(outcome, ApiError) and known:
            problems.append(_problem(manifests[index], outcome))
        elif isinstance(outcome, ConflictError | ImmutableFieldError):
            conflicts.append(outcome)
        elif isinstance(outcome, ApiError):
            if _server_failure(outcome):
                raise outcome
            problems.append(_problem(manifests[index], outcome))
        elif outcome is not None:
            responses[index] = outcome
    if problems or known:
        raise ValidationError([*known, *problems])
    if conflicts:
        raise conflicts[0]
    return responses
