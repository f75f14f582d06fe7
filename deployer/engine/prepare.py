"""Before the first write: default namespaces, annotation checks and a dry run of every object.

Every object is sent with `dryRun=All`, in parallel, and judged in one of these ways
(`Check.method`):

- SERVER: the server-side dry run of the object as written. An object that opts in to
  recreation and changes an immutable field is dry-run created instead, which the server
  validates before it returns AlreadyExists.
- STAND_IN: the object's Namespace comes from this plan and does not exist yet, and the
  server checks the namespace before it validates anything. The object is dry-run
  created in a namespace that exists (the stand-in, see `dry_run_all`), with strict
  field validation as server-side apply has. Success and AlreadyExists mean it is valid.
- SCHEMA: its CustomResourceDefinition comes from this plan and is not served yet, so
  it is checked against the CRD's schema offline (`deployer.plan.crd_schema`).
- NOT_CHECKED: none of these could judge it, for example because every stand-in
  namespace rejected it for reasons of its own (RBAC, a webhook, a namespace being
  deleted) before validating it; `Check.note` says why.

Any rejection becomes a Problem, and all problems are raised together as ValidationError,
with those that the static checks found before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deployer.cluster import Cluster, statuses
from deployer.cluster.client import wants_recreate
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
from deployer.plan.crd_schema import custom_resource_problems, defines_kind
from deployer.plan.graph import manifest_label, object_label
from deployer.plan.validate import static_problems
from deployer.readiness import validate_annotations

log = logging.getLogger(__name__)

# The field manager that server-side apply gives the fields of an object that had no
# managedFields before (Kubernetes 1.37 and earlier).
FIRST_APPLY_MANAGER = "before-first-apply"

SERVER = "server"
STAND_IN = "stand-in"
SCHEMA = "schema"
NOT_CHECKED = "not-checked"

# The ServiceAccount admission plugin's rejection of a Pod whose account does not exist
# (Kubernetes 1.37). It runs before validation, so the Pod was not validated.
_MISSING_ACCOUNT = re.compile(r"error looking up service account [^/\s]+/([^:\s]+): .*not found")

# Rejections by admission plugins of the validating phase, which the API server runs after
# it validated the object. Seen on Kubernetes 1.37: in a namespace whose quota allows no
# Services, an invalid Service is reported as invalid and a valid one as over quota. So
# such a rejection from a stand-in namespace means that the object itself is valid.
_AFTER_VALIDATION = ("exceeded quota", "violates PodSecurity")

# A 422 message with several causes, `Service "web" is invalid: [path: detail, ...]`, and
# the start of each cause after the first: a comma, then a field path and a colon.
_INVALID_CAUSES = re.compile(r"^(?P<head>.*? is invalid: )\[(?P<causes>.*)\]$", re.DOTALL)
_CAUSE_START = re.compile(r", (?=[a-z]\w*(?:\[[^\]]*\]|\.[\w-]+)*: )")


@dataclass(frozen=True)
class PlannedNames:
    """Namespaces, ServiceAccounts and custom kinds that the plan itself creates."""

    namespaces: frozenset[str]
    custom_kinds: dict[tuple[str, str], bool]  # (group, kind) -> namespaced, from CRDs in the set
    crds: dict[tuple[str, str], Manifest]  # (group, kind) -> the CRD manifest that defines it
    service_accounts: frozenset[tuple[str | None, str]]  # (namespace, name)

    @classmethod
    def of(cls, manifests: Iterable[Manifest]) -> PlannedNames:
        namespaces: set[str] = set()
        kinds: dict[tuple[str, str], bool] = {}
        crds: dict[tuple[str, str], Manifest] = {}
        accounts: set[tuple[str | None, str]] = set()
        for manifest in manifests:
            if manifest.kind == "Namespace" and manifest.group == "":
                namespaces.add(manifest.name)
            elif manifest.kind == "ServiceAccount" and manifest.group == "":
                accounts.add((manifest.namespace, manifest.name))
            elif manifest.kind == "CustomResourceDefinition":
                spec = manifest.body.get("spec") or {}
                kind = str((spec.get("names") or {}).get("kind") or "")
                key = (str(spec.get("group") or ""), kind)
                kinds[key] = spec.get("scope") != "Cluster"
                if defines_kind(manifest, *key):
                    crds[key] = manifest
        return cls(frozenset(namespaces), kinds, crds, frozenset(accounts))


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


@dataclass(frozen=True)
class Check:
    """The dry run's verdict on one object: the method (SERVER, STAND_IN, SCHEMA or NOT_CHECKED)."""

    method: str
    before: Before = Before("")  # the object's state before the apply; "" for a new one
    note: str = ""  # the stand-in namespace for STAND_IN; why not, for NOT_CHECKED


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
    """Return a copy of `manifest` whose metadata.namespace is `namespace` (removed if None).

    The copy keeps the manifest's class and other fields, such as the written text of
    values that the loader's subclass records for the static checks' messages.
    """
    metadata = dict(manifest.metadata)
    if namespace is None:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    return dataclasses.replace(manifest, body={**manifest.body, "metadata": metadata})


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
    stand_ins: Sequence[str] = ("default",),
    known: Sequence[Problem] = (),
) -> dict[int, Check]:
    """Dry-run every manifest; raise ValidationError if any is invalid.

    `stand_ins` are the namespaces to try, in order, as the stand-in for a namespace that
    the plan creates (see the module docstring). Namespaces the plan creates are skipped,
    since they may not exist yet.

    `known` are problems found before the dry run. When there are any, every dry-run
    failure, conflicts and server errors included, joins them in one ValidationError,
    so the user sees all problems at once. An object that a known problem names is
    dry-run too, but only what its rejection adds is kept (see `added_problems`), since
    the server mostly restates the known problem.

    Returns how each manifest without known problems was checked, by manifest index. Only
    the `Before` of an object is kept, because 5,000 full dry-run bodies would double the
    memory use.

    Conflicts with other field managers (ConflictError) and changes to immutable fields
    (ImmutableFieldError) are raised after the dry run, since the objects themselves are
    valid, and one error lists every such object. With other problems, they join those.
    """
    planned = PlannedNames.of(manifests)
    usable = [namespace for namespace in stand_ins if namespace not in planned.namespaces]
    known_paths: dict[str, list[str]] = {}
    for problem in known:
        known_paths.setdefault(problem.object, []).append(problem.path)

    def check(index: int) -> tuple[int, Check | list[Problem] | ApiError | None]:
        manifest = manifests[index]
        try:
            return index, _check(cluster, manifest, planned, force=force, stand_ins=usable)
        except ApiError as error:
            return index, error

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        outcomes = list(pool.map(check, range(len(manifests))))

    checks: dict[int, Check] = {}
    problems: list[Problem] = []
    conflicts: list[tuple[int, ApiError]] = []
    for index, outcome in outcomes:
        paths = known_paths.get(manifest_label(manifests[index]))
        if paths is not None:
            # Schema problems of custom resources are among the known ones already.
            if isinstance(outcome, ApiError):
                problems += added_problems(manifests[index], outcome, paths)
            continue
        if isinstance(outcome, list):
            problems.extend(outcome)
        elif isinstance(outcome, ApiError) and known:
            problems.append(problem_from_error(manifests[index], outcome))
        elif isinstance(outcome, ConflictError | ImmutableFieldError):
            conflicts.append((index, outcome))
        elif isinstance(outcome, ApiError):
            if _server_failure(outcome):
                raise outcome
            problems.append(problem_from_error(manifests[index], outcome))
        elif outcome is not None:
            checks[index] = outcome
    if problems or known:
        # Conflicts and immutable fields are problems of their own, so they join in.
        for index, error in conflicts:
            problems.append(problem_from_error(manifests[index], error))
        raise ValidationError([*known, *problems])
    if conflicts:
        raise joined_conflicts([error for _, error in conflicts])
    return checks


def added_problems(manifest: Manifest, error: ApiError, paths: Sequence[str]) -> list[Problem]:
    """Return what a rejection of an object with known problems adds to them, if anything.

    Validation errors (422) and conflicts (409) add their causes that start with none of
    the known problems' field paths. Other rejections, such as a body the server cannot
    convert, stop at the first wrong type, which the static checks found already.
    """
    if error.status not in (409, 422):
        return []
    problem = problem_from_error(manifest, error)
    match = _INVALID_CAUSES.match(problem.message)
    if match is None:
        causes = [problem.message]
        head = ""
    else:
        causes = _CAUSE_START.split(match.group("causes"))
        head = match.group("head")
    known = [path for path in paths if path]
    fresh = [cause for cause in causes if not any(cause.startswith(path) for path in known)]
    if match is None and fresh and any(path in problem.message for path in known):
        return []  # a message that names a known path but is not a list of causes
    if not fresh:
        return []
    text = head + (fresh[0] if len(fresh) == 1 else "[" + ", ".join(fresh) + "]")
    return [dataclasses.replace(problem, message=text)]


def _check(
    cluster: Cluster,
    manifest: Manifest,
    planned: PlannedNames,
    *,
    force: bool,
    stand_ins: Sequence[str],
) -> Check | list[Problem]:
    """Judge one manifest; raise the ApiError of a rejection."""
    try:
        response = send(cluster, manifest, force=force, dry_run=True)
        return Check(SERVER, _before(cluster, manifest, response))
    except ApiError as error:
        key = (manifest.group, manifest.kind)
        if error.reason == "NoKindMatch" and key in planned.crds:
            return _check_schema(manifest, planned.crds[key])
        if error.status == 404 and manifest.namespace in planned.namespaces:
            return _check_in_stand_in(cluster, manifest, planned, stand_ins)
        account = _missing_account(error)
        if account and (manifest.namespace, account) in planned.service_accounts:
            # The account is created in an earlier wave; validate the Pod without it.
            response = send(cluster, _without_account(manifest), force=force, dry_run=True)
            return Check(SERVER, _before(cluster, manifest, response))
        if isinstance(error, ImmutableFieldError) and wants_recreate(manifest.body):
            return _check_recreated(cluster, manifest)
        raise


def _check_schema(manifest: Manifest, crd: Manifest) -> Check | list[Problem]:
    problems = custom_resource_problems(manifest, crd)
    if problems is None:
        return Check(NOT_CHECKED, note=f"{object_label(crd.ref)} gives no schema to check it")
    return problems or Check(SCHEMA)


def _check_in_stand_in(
    cluster: Cluster, manifest: Manifest, planned: PlannedNames, stand_ins: Sequence[str]
) -> Check | list[Problem]:
    account = _pod_account(manifest)
    if account not in (None, "default"):
        if (manifest.namespace, account) not in planned.service_accounts:
            message = (
                f'serviceaccount "{account}" not found: namespace {manifest.namespace} is '
                "created by this apply, and no ServiceAccount manifest creates the account in it"
            )
            return [Problem(manifest.describe(), "spec.serviceAccountName", message)]
        manifest = _without_account(manifest)
    # NOTE: admission that depends on the new namespace itself (Pod Security labels, a
    # quota or webhook selecting it) cannot run here, so its rejections show at the write.
    rejections: list[str] = []
    for namespace in stand_ins:
        try:
            cluster.create(with_namespace(manifest, namespace).body, dry_run=True, strict=True)
        except ApiError as error:
            if error.status == 404:
                continue  # this stand-in does not exist; try the next
            if error.status == 409 and error.reason == "AlreadyExists":
                return Check(STAND_IN, note=namespace)  # validation runs before this check
            if error.status == 403 and any(text in str(error) for text in _AFTER_VALIDATION):
                return Check(STAND_IN, note=namespace)
            if error.status == 403 or "admission webhook" in str(error):
                # Namespace-scoped admission or RBAC of the stand-in, which may differ
                # from the new namespace's, so the rejection does not show an invalid
                # object. The next stand-in may accept it.
                rejections.append(f"stand-in namespace {namespace} rejected it: {error}")
                continue
            raise
        return Check(STAND_IN, note=namespace)
    if rejections:
        note = "; ".join(rejections)
        log.info("dry run of %s not checked: %s", manifest.ref, note)
        return Check(NOT_CHECKED, note=note)
    return Check(NOT_CHECKED, note="no stand-in namespace exists: " + ", ".join(stand_ins))


def _check_recreated(cluster: Cluster, manifest: Manifest) -> Check:
    """Validate the replacement of an object that is deleted and created again."""
    try:
        cluster.create(manifest.body, dry_run=True, strict=True)
    except ApiError as error:
        if error.status != 409 or error.reason != "AlreadyExists":
            raise
    return Check(SERVER)


def _pod_account(manifest: Manifest) -> str | None:
    if manifest.kind != "Pod" or manifest.group != "":
        return None
    spec = manifest.body.get("spec") or {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return str(account) if account else None


def _without_account(manifest: Manifest) -> Manifest:
    spec = {
        key: value
        for key, value in (manifest.body.get("spec") or {}).items()
        if key not in ("serviceAccountName", "serviceAccount")
    }
    return dataclasses.replace(manifest, body={**manifest.body, "spec": spec})


def _missing_account(error: ApiError) -> str | None:
    """Return the ServiceAccount that a 403 of the ServiceAccount admission plugin names."""
    if error.status != 403:
        return None
    match = _MISSING_ACCOUNT.search(str(error))
    return match.group(1) if match else None


def joined_conflicts(errors: Sequence[ApiError]) -> ApiError:
    """Join conflict and immutable-field errors of several objects into one error.

    Each error's message ends with a line of advice; the joined message gives each
    piece of advice once, at the end. The result is a ConflictError if any error is one.
    """
    if len(errors) == 1:
        return errors[0]
    details: list[str] = []
    advice: list[str] = []
    for error in errors:
        text, _, hint = str(error).rpartition("\n")
        details.append(text or hint)
        if text and hint not in advice:
            advice.append(hint)
    message = "\n".join(
        [f"{len(errors)} object(s) cannot be applied as written:", *details, *advice]
    )
    first = next((e for e in errors if isinstance(e, ConflictError)), None)
    if first is not None:
        return ConflictError(message, status=first.status, reason=first.reason)
    return ImmutableFieldError(message, status=errors[0].status, reason=errors[0].reason)


def offline_problems(manifests: Sequence[Manifest]) -> list[Problem]:
    """Return every problem that can be found without a cluster, as `plan` and apply find them.

    These are the static checks (deployer.plan.validate), the deployer.dev annotations,
    and custom resources checked against the schema of a CRD in the same set.
    """
    problems = static_problems(manifests)
    problems += annotation_problems(manifests)
    crds = PlannedNames.of(manifests).crds
    for manifest in manifests:
        crd = crds.get((manifest.group, manifest.kind))
        if crd is not None:
            problems += custom_resource_problems(manifest, crd) or []
    return problems


def annotation_problems(manifests: Sequence[Manifest]) -> list[Problem]:
    """Check the readiness, timeout and recreate annotations, which are read only at the write."""
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
        try:
            wants_recreate(manifest.body)
        except InputError as invalid:
            problems.append(Problem(label, "", str(invalid)))
    return problems
