"""Before the first write: default namespaces, annotation checks and a server-side dry run.

The dry run sends each object with `dryRun=All` in parallel. Objects whose Namespace or
CustomResourceDefinition is created by an earlier wave of the same plan cannot be judged
yet, so their NotFound or unknown-kind errors are expected and skipped. Any other
rejection becomes a Problem, and all problems are raised together as ValidationError.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deployer.cluster import Cluster, statuses
from deployer.engine.timeouts import parse_duration
from deployer.errors import (
    ApiError,
    ConflictError,
    ImmutableFieldError,
    InputError,
    Problem,
    ValidationError,
)
from deployer.model.objects import ANNOTATION_PREFIX, Manifest
from deployer.plan.graph import manifest_label, object_label
from deployer.readiness import validate_annotations

log = logging.getLogger(__name__)

# The field manager that server-side apply gives the fields of an object that had no
# managedFields before (Kubernetes 1.37 and earlier).
FIRST_APPLY_MANAGER = "before-first-apply"


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


@dataclass(frozen=True)
class Before:
    """The state of an object before the apply, as far as change detection needs it."""

    resource_version: str  # "" for an object that does not exist yet
    # Digest of the live object (see `content_digest`), only when it has no managedFields.
    content: str | None = None

    def unchanged_by(self, applied: Mapping[str, Any]) -> bool:
        """Tell whether the object returned by the real apply equals this earlier state."""
        version = str((applied.get("metadata") or {}).get("resourceVersion") or "")
        if self.resource_version and version == self.resource_version:
            return True
        return self.content is not None and self.content == content_digest(applied)


def content_digest(body: Mapping[str, Any]) -> str:
    """Return a SHA-256 of an object without metadata.managedFields and resourceVersion."""
    metadata = dict(body.get("metadata") or {})
    metadata.pop("managedFields", None)
    metadata.pop("resourceVersion", None)
    text = json.dumps({**body, "metadata": metadata}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _before(cluster: Cluster, manifest: Manifest, response: Mapping[str, Any]) -> Before:
    """Build the Before of a dry-run response, reading the live object only when needed.

    The API server (seen on Kubernetes 1.37) stores a Namespace created by server-side
    apply without managedFields. The next apply then adds a `before-first-apply` entry,
    which changes the resourceVersion although no field changed. The dry run shows that
    entry, so only then is the live object read, to compare content instead.
    """
    metadata = response.get("metadata") or {}
    version = str(metadata.get("resourceVersion") or "")
    managers = [entry.get("manager") for entry in metadata.get("managedFields") or []]
    if not version or not manifest.name or FIRST_APPLY_MANAGER not in managers:
        return Before(version)
    live = cluster.get(manifest.api_version, manifest.kind, manifest.name, manifest.namespace)
    return Before(version, content_digest(live) if live else None)


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


def problem_from_error(manifest: Manifest, error: ApiError) -> Problem:
    """Turn a dry-run rejection into a Problem that names the manifest and its source."""
    text = str(error)
    prefix = f"{manifest.ref.kind} "
    if text.startswith(prefix) and ": " in text:
        text = text.split(": ", 1)[1]
    if error.status == 404 and text == f'namespaces "{manifest.namespace}" not found':
        text = (
            f"namespace {manifest.namespace} not found; add a Namespace manifest for it "
            "or create it first"
        )
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
) -> dict[int, Before]:
    """Dry-run every manifest; raise ValidationError if any is invalid.

    `known` are problems found before the dry run. When there are any, every dry-run
    failure, conflicts and server errors included, joins them in one ValidationError,
    so the user sees all problems at once.

    Returns what each existing object looked like before (see `Before`) by manifest index.
    Only that is kept because 5,000 full dry-run bodies would double the memory use.

    A conflict with another field manager (ConflictError) or a change to an immutable
    field (ImmutableFieldError) is raised as such after the dry run, since the object
    itself is valid.
    """
    planned = PlannedNames.of(manifests)

    def check(index: int) -> tuple[int, Before | ApiError | None]:
        manifest = manifests[index]
        if skip(manifest):
            return index, None
        try:
            response = send(cluster, manifest, force=force, dry_run=True)
            return index, _before(cluster, manifest, response)
        except ApiError as error:
            if _expected_miss(manifest, error, planned):
                log.debug("dry run of %s skipped: %s", manifest.ref, error)
                return index, None
            return index, error

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        outcomes = list(pool.map(check, range(len(manifests))))

    responses: dict[int, Before] = {}
    problems: list[Problem] = []
    conflicts: list[ApiError] = []
    for index, outcome in outcomes:
        if isinstance(outcome, ApiError) and known:
            problems.append(problem_from_error(manifests[index], outcome))
        elif isinstance(outcome, ConflictError | ImmutableFieldError):
            conflicts.append(outcome)
        elif isinstance(outcome, ApiError):
            if _server_failure(outcome):
                raise outcome
            problems.append(problem_from_error(manifests[index], outcome))
        elif outcome is not None:
            responses[index] = outcome
    if problems or known:
        raise ValidationError([*known, *problems])
    if conflicts:
        raise conflicts[0]
    return responses


def annotation_problems(manifests: Sequence[Manifest]) -> list[Problem]:
    """Check the readiness and timeout annotations, which are read only after the write."""
    problems = []
    for manifest in manifests:
        label = manifest_label(manifest)
        try:
            validate_annotations(manifest.body)
        except InputError as invalid:
            # The readiness rules name the object first; the label already does.
            text = str(invalid).removeprefix(f"{object_label(manifest.ref)}: ")
            problems.append(Problem(label, "", text))
        timeout = manifest.annotation("timeout")
        if timeout is not None:
            try:
                parse_duration(timeout, what=f"annotation {ANNOTATION_PREFIX}timeout")
            except InputError as invalid:
                problems.append(Problem(label, "", str(invalid)))
    return problems
