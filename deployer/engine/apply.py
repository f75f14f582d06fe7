"""Carry out a plan: validate everything, then apply wave by wave and wait for readiness.

Steps of `apply_manifests`:
1. Fill in default namespaces, then run `build_plan`, the offline checks, a dry run of
   the inventory write, the prune guard and a dry run of every object (see prepare.py
   and prune.py). Any problem raises ValidationError and nothing is written.
2. Per wave, apply every object in parallel, then wait through watches (see waiter.py).
   After a wave with CRDs, discovery is read again so the next wave can use the kinds.
3. With an inventory name, prune what left the manifests, then store the inventory. The
   prune keeps what other inventories or the applied objects still need (see prune.py).

Objects with only `metadata.generateName` are created with POST and tracked by the name
the server returns. They are not idempotent: every apply creates another one, and with
an inventory and prune the one created by the previous apply is deleted.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from deployer.cluster import Cluster, inventory
from deployer.cluster.inventory import Entry
from deployer.engine import prepare
from deployer.engine.deletion import delete_in_reverse, entry_ref, find_kept, report_kept
from deployer.engine.interrupted import interrupted_message
from deployer.engine.prepare import NOT_CHECKED, SCHEMA, STAND_IN, Check
from deployer.engine.prune import Kept, planned_entries, prune_candidates, risky_prune_problems
from deployer.engine.targets import Key, Target
from deployer.engine.timeouts import parse_duration
from deployer.engine.waiter import Waiter
from deployer.errors import ApiError, DeployerError, Interrupted, Problem
from deployer.model.events import ObjectEvent, ProgressSink, discard
from deployer.model.objects import Manifest, ObjectRef
from deployer.model.plan import Plan, Wave
from deployer.model.status import State, Status
from deployer.plan import build_plan

log = logging.getLogger(__name__)

DISCOVERY_WAIT_SECONDS = 15.0  # how long new CRD kinds may take to appear in discovery


@dataclass
class ApplyOptions:
    """Settings of one apply. Times are seconds."""

    namespace: str | None = None  # for objects without one; None: the kubeconfig context's
    force_conflicts: bool = False  # take over fields another field manager owns
    dry_run: bool = False  # only the server-side dry run; nothing is written
    wait: bool = True  # wait for readiness after each wave
    timeout_seconds: float = 300.0  # per object; the `deployer.dev/timeout` annotation overrides it
    wave_timeout_seconds: float | None = None  # per wave; None: only per-object timeouts
    inventory: str | None = None  # store what was written under this name, and prune with it
    inventory_namespace: str | None = None  # where the inventory lives; None: `namespace`
    prune: bool = True  # with `inventory`: delete objects that left the manifests
    # Stop before the first write when the prune would delete a Namespace or most of the
    # inventory (see deployer.engine.prune). The CLI sets it unless --prune was given.
    guard_prune: bool = False
    parallelism: int = 16  # concurrent requests; at most the cluster's pool size (32)
    cancel: threading.Event | None = None  # set it to end a readiness wait early


@dataclass(frozen=True)
class ObjectResult:
    """Outcome for one object: its change and its final readiness status."""

    ref: ObjectRef
    api_version: str
    wave: int
    # "created", "configured" or "unchanged"; with dry_run "dry-run" for an object the dry
    # run validated and "not-checked" for one it could not judge (see prepare.Check)
    change: str
    status: Status


@dataclass
class ApplyResult:
    """Outcome of `apply_manifests`: every object, the pruned ones, and the duration."""

    objects: list[ObjectResult] = field(default_factory=list)
    pruned: list[ObjectRef] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)  # objects the prune did not delete
    inventory: str | None = None
    inventory_namespace: str | None = None
    seconds: float = 0.0

    def count(self, change: str) -> int:
        """Count objects with the given change ("created", "configured", ...)."""
        return sum(1 for item in self.objects if item.change == change)


def _key(manifest: Manifest) -> tuple[str, str, str | None, str]:
    return manifest.api_version, manifest.kind, manifest.namespace, manifest.name


def validate(
    cluster: Cluster,
    plan: Plan,
    *,
    options: ApplyOptions,
    stand_ins: Sequence[str],
    previous: Sequence[Entry] = (),
    kept: Sequence[Kept] = (),
) -> dict[Key, Check]:
    """Run the static checks, the inventory checks and the dry run of every object.

    `stand_ins` are the namespaces to dry-run objects in whose namespace the plan creates.
    `previous` are the entries of the inventory that the prune compares with the plan,
    and `kept` those of them that the prune will keep.
    Returns how each object was checked (see prepare.Check), by object key.
    """
    ordered = list(plan.manifests())
    problems: list[Problem] = prepare.offline_problems(ordered)
    problems += _inventory_problems(cluster, plan, options, stand_ins[0])
    if options.inventory and options.prune and options.guard_prune:
        keys = {item.entry.key for item in kept}
        problems += risky_prune_problems(options.inventory, plan, previous, kept=keys)

    checks = prepare.dry_run_all(
        cluster,
        ordered,
        force=options.force_conflicts,
        parallelism=options.parallelism,
        stand_ins=stand_ins,
        known=problems,
    )
    return {_key(ordered[index]): check for index, check in checks.items()}


def _inventory_problems(
    cluster: Cluster, plan: Plan, options: ApplyOptions, namespace: str
) -> list[Problem]:
    """Dry-run the inventory write with the planned entries.

    A missing namespace or permission, or an inventory too large for one ConfigMap
    (1 MiB), then fails before the first write. Skipped when the plan creates the
    inventory's namespace.
    """
    if not options.inventory:
        return []
    planned = planned_entries(plan)
    if any(
        e.kind == "Namespace" and e.api_version == "v1" and e.name == namespace for e in planned
    ):
        return []
    try:
        inventory.write(cluster, options.inventory, namespace, planned, dry_run=True)
    except ApiError as failure:
        if failure.status is None or failure.status >= 500:
            raise
        message = f"cannot store the inventory in namespace {namespace}: {failure}"
        if failure.status == 404:
            message += "; create the namespace, or store the inventory in another one"
        return [Problem(f"inventory {options.inventory}", "", message)]
    return []


def apply_manifests(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    options: ApplyOptions,
    progress: ProgressSink = discard,
) -> ApplyResult:
    """Validate, apply wave by wave with readiness waits, prune, and store the inventory."""
    started = time.monotonic()
    namespace = options.namespace or cluster.default_namespace
    store_in = options.inventory_namespace or namespace
    plan = build_plan(
        prepare.resolve_namespaces(cluster, manifests, namespace), default_namespace=namespace
    )
    stand_ins = list(dict.fromkeys([store_in, namespace, "default"]))
    previous: list[Entry] = []
    kept: list[Kept] = []
    if options.inventory:
        previous = inventory.read(cluster, options.inventory, store_in) or []
        if options.prune and options.guard_prune:
            kept = find_kept(
                cluster,
                prune_candidates(plan, previous),
                inventory_name=options.inventory,
                inventory_namespace=store_in,
                current=planned_entries(plan),
            )
    dry = validate(
        cluster, plan, options=options, stand_ins=stand_ins, previous=previous, kept=kept
    )
    result = ApplyResult(inventory=options.inventory, inventory_namespace=store_in, kept=kept)
    if options.dry_run:
        result.objects = _dry_run_results(plan, dry, progress)
        result.seconds = time.monotonic() - started
        return result
    for manifest in plan.manifests():
        check = dry.get(_key(manifest))
        if check and check.method == NOT_CHECKED:
            # NOTE: the server validates it only when its wave is written.
            log.warning(
                "%s not validated before the first write: %s", manifest.describe(), check.note
            )

    written: list[Target] = []
    pruned: list[Entry] = []
    running = 0  # index of the wave being applied; len(plan.waves) while pruning
    try:
        for wave in plan.waves:
            running = wave.index
            _run_wave(cluster, wave, dry, options, progress, written)
        running = len(plan.waves)
        if options.inventory and options.prune:
            current = [_entry(target) for target in written]
            keep = {entry.key for entry in current}
            removed = [entry for entry in previous if entry.key not in keep]
            kept = find_kept(
                cluster,
                removed,
                inventory_name=options.inventory,
                inventory_namespace=store_in,
                current=current,
            )
            report_kept(kept, progress)
            skipped = {item.entry.key for item in kept}
            pruned = delete_in_reverse(
                cluster,
                [entry for entry in removed if entry.key not in skipped],
                progress=progress,
                timeout_seconds=options.timeout_seconds,
            )
            previous = [item.entry for item in kept if item.stays_listed]
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(plan, written, running)) from None
    finally:
        if options.inventory and written:
            _store_inventory(cluster, options.inventory, store_in, written, previous)
    result.objects = [_result(target) for target in written]
    result.pruned = [entry_ref(entry) for entry in pruned]
    result.kept = kept
    result.seconds = time.monotonic() - started
    return result


def _store_inventory(
    cluster: Cluster, name: str, namespace: str, written: list[Target], previous: list[Entry]
) -> None:
    """Store what this apply wrote plus the older entries that were not pruned.

    Runs after a failed wave too, so destroy can still find every object written so far.
    A failed write is then logged rather than raised, to keep the original error.
    """
    entries = [_entry(target) for target in written]
    fresh = {entry.key for entry in entries}
    entries += [entry for entry in previous if entry.key not in fresh]
    failing = sys.exc_info()[1] is not None
    try:
        inventory.write(cluster, name, namespace, entries)
    except DeployerError as failure:
        if not failing:
            raise
        log.error("storing inventory %s in namespace %s failed: %s", name, namespace, failure)


def _run_wave(
    cluster: Cluster,
    wave: Wave,
    dry: dict[Key, Check],
    options: ApplyOptions,
    progress: ProgressSink,
    written: list[Target],
) -> None:
    def apply_one(manifest: Manifest) -> Target | DeployerError:
        check = dry.get(_key(manifest))
        before = check.before if check else None
        try:
            return _apply_one(cluster, manifest, wave.index, before, options)
        except DeployerError as failure:
            return failure

    targets: list[Target] = []
    failures: list[DeployerError] = []
    with ThreadPoolExecutor(max_workers=options.parallelism) as pool:
        # Events are sent from this thread as each request ends, so sinks need no lock.
        for future in as_completed([pool.submit(apply_one, m) for m in wave.manifests]):
            outcome = future.result()
            if isinstance(outcome, Target):
                targets.append(outcome)
                written.append(outcome)
                _report_applied(outcome, progress)
            else:
                failures.append(outcome)
    for extra in failures[1:]:
        log.error("apply failed too: %s", extra)
    if failures:
        raise failures[0]

    if options.wait:
        Waiter(
            cluster,
            targets,
            progress=progress,
            wave_timeout=options.wave_timeout_seconds,
            cancel=options.cancel,
        ).run()
    for target in targets:
        target.live = {}  # the live body is only needed while waiting
    crds = [m for m in wave.manifests if m.kind == "CustomResourceDefinition"]
    if crds:
        _await_discovery(cluster, crds)


def _apply_one(
    cluster: Cluster,
    manifest: Manifest,
    wave: int,
    before: prepare.Before | None,
    options: ApplyOptions,
) -> Target:
    live = prepare.send(cluster, manifest, force=options.force_conflicts, dry_run=False)
    info = cluster.resource(manifest.api_version, manifest.kind)
    if before is None or not before.resource_version or not manifest.name:
        change = "created"
    elif before.unchanged_by(live):
        change = "unchanged"
    else:
        change = "configured"
    meta = live.get("metadata") or {}
    meta.pop("managedFields", None)  # large and never read; dropped to keep memory low
    return Target(
        manifest=manifest,
        info=info,
        name=str(meta.get("name") or manifest.name),
        namespace=str(meta.get("namespace")) if info.namespaced else None,
        wave=wave,
        live=live,
        change=change,
        timeout_seconds=object_timeout(manifest, options.timeout_seconds),
    )


def object_timeout(manifest: Manifest, default: float) -> float:
    """Return the `deployer.dev/timeout` of a manifest in seconds, else `default`."""
    text = manifest.annotation("timeout")
    if text is None:
        return default
    return parse_duration(text, what=f"{manifest.describe()} deployer.dev/timeout")


def _report_applied(target: Target, progress: ProgressSink) -> None:
    reason = target.change.capitalize()
    target.status = Status(State.APPLIED, reason)
    log.info("%s %s", target.describe(), target.change)
    progress(ObjectEvent(ref=target.ref, state=State.APPLIED, reason=reason, wave=target.wave))


def _await_discovery(cluster: Cluster, crds: list[Manifest]) -> None:
    expected = []
    for crd in crds:
        spec = crd.body.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind") or "")
        for version in spec.get("versions") or []:
            if version.get("served", True):
                expected.append((f"{spec.get('group')}/{version.get('name')}", kind))
    deadline = time.monotonic() + DISCOVERY_WAIT_SECONDS
    delay = 0.2
    while True:
        cluster.refresh_mapping()
        missing = [pair for pair in expected if cluster.find_resource(*pair) is None]
        if not missing or time.monotonic() > deadline:
            break
        # NOTE: discovery has no watch; a CRD's kinds appear a moment after Established.
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    for api_version, kind in missing:
        log.warning("kind %s %s is still missing from discovery", api_version, kind)


def _entry(target: Target) -> Entry:
    return Entry(
        wave=target.wave,
        api_version=target.info.api_version,
        kind=target.info.kind,
        namespace=target.namespace,
        name=target.name,
    )


def _result(target: Target) -> ObjectResult:
    return ObjectResult(
        ref=target.ref,
        api_version=target.info.api_version,
        wave=target.wave,
        change=target.change,
        status=target.status,
    )


def _dry_run_results(
    plan: Plan, dry: dict[Key, Check], progress: ProgressSink
) -> list[ObjectResult]:
    results = []
    for wave in plan.waves:
        for manifest in wave.manifests:
            check = dry.get(_key(manifest)) or Check(NOT_CHECKED)
            status = _dry_run_status(check)
            progress(
                ObjectEvent(
                    ref=manifest.ref,
                    state=status.state,
                    reason=status.reason,
                    message=status.message,
                    wave=wave.index,
                )
            )
            change = "not-checked" if check.method == NOT_CHECKED else "dry-run"
            results.append(
                ObjectResult(manifest.ref, manifest.api_version, wave.index, change, status)
            )
    return results


def _dry_run_status(check: Check) -> Status:
    if check.method == NOT_CHECKED:
        return Status(State.APPLIED, "NotChecked", check.note)
    if check.method == STAND_IN:
        return Status(State.APPLIED, "DryRun", f"checked in stand-in namespace {check.note}")
    if check.method == SCHEMA:
        return Status(State.APPLIED, "DryRun", "checked against its CRD's schema")
    return Status(State.APPLIED, "DryRun")
