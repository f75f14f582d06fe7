"""Delete objects wave by wave in reverse order, waiting until each wave is gone.

Used by prune (objects that left the manifests), by `destroy` and by the template kinds'
destroy. The order is `deployer.plan.ranks.delete_position`: reverse apply waves, then
CRDs, then Namespaces. Deletion uses foreground propagation, so a Deployment is gone
only once its ReplicaSets and pods are, and every object of one deletion wave is gone
before the next wave starts.

Objects that other inventories list or need are kept (see `find_kept` and
deployer.engine.prune), and so are, for a prune, the Namespaces and CRDs that the
current apply still uses.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from deployer.cluster import Cluster, inventory
from deployer.cluster.inventory import Entry, StoredEntries
from deployer.cluster.watch import wait_gone
from deployer.engine import prepare
from deployer.engine.prune import CrdOf, Kept, kept_for_others, kept_in_use, planned_entries
from deployer.errors import ApiError, InputError, ReadinessTimeout
from deployer.model.events import ObjectEvent, ProgressSink, discard
from deployer.model.objects import Manifest, ObjectRef
from deployer.model.status import State
from deployer.plan import build_plan
from deployer.plan.ranks import delete_position

log = logging.getLogger(__name__)


def entry_ref(entry: Entry) -> ObjectRef:
    """Return the ObjectRef of an inventory entry."""
    return ObjectRef(entry.api_version.rpartition("/")[0], entry.kind, entry.namespace, entry.name)


def crd_of(cluster: Cluster) -> CrdOf:
    """Return a function that names the CRD serving an entry's kind, through discovery."""

    def name(entry: Entry) -> str | None:
        info = cluster.find_resource(entry.api_version, entry.kind)
        if info is None or "." not in info.group:
            return None  # CRD groups contain a dot; "apps" and "batch" are built in
        return f"{info.plural}.{info.group}"

    return name


def find_kept(
    cluster: Cluster,
    candidates: Sequence[Entry],
    *,
    inventory_name: str,
    inventory_namespace: str,
    current: Sequence[Entry] | None = None,
) -> list[Kept]:
    """Return the `candidates` that a prune or destroy of an inventory must keep.

    With `current`, the objects of the apply that prunes, the Namespaces and CRDs they
    need are kept too. The other inventories are listed in every namespace. Where that
    is forbidden, only those of the inventory's namespace and of the candidates'
    namespaces are listed, and a warning says so.
    """
    if not candidates:
        return []
    namer = crd_of(cluster)
    kept: list[Kept] = []
    if current is not None:
        kept = kept_in_use(
            candidates,
            current,
            crd_of=namer,
            inventory=inventory_name,
            inventory_namespace=inventory_namespace,
        )
    fallback = {inventory_namespace} | {e.namespace for e in candidates if e.namespace}
    listed, complete = inventory.list_all(cluster, fallback=fallback)
    if not complete:
        log.warning(
            "cannot list the inventories of all namespaces (forbidden), so cluster-scoped "
            "objects are kept; listed only namespaces %s",
            ", ".join(sorted(fallback)),
        )
    others = [
        stored
        for stored in listed
        if (stored.name, stored.namespace) != (inventory_name, inventory_namespace)
    ]
    decided = {item.entry.key for item in kept}
    rest = [entry for entry in candidates if entry.key not in decided]
    return kept + kept_for_others(rest, others, crd_of=namer, complete=complete)


def report_kept(kept: Iterable[Kept], progress: ProgressSink) -> None:
    """Log each kept object and send it as a Skipped event with reason Kept."""
    for item in kept:
        log.warning("%s", item.describe())
        progress(
            ObjectEvent(
                ref=entry_ref(item.entry), state=State.SKIPPED, reason="Kept", message=item.reason
            )
        )


def delete_in_reverse(
    cluster: Cluster,
    entries: Iterable[Entry],
    *,
    progress: ProgressSink,
    timeout_seconds: float,
    parallelism: int = 16,
) -> list[Entry]:
    """Delete `entries` in deletion order and return those that existed.

    Each entry's `wave` is the apply wave it was written in. Entries with the same
    `delete_position` are deleted in parallel, and the next group starts once they are gone.
    When `entries` are an inventory as `inventory.read` returns them, the objects that
    other inventories list or need are kept and reported (`find_kept`) instead.
    """
    if isinstance(entries, StoredEntries):
        kept = find_kept(
            cluster, entries, inventory_name=entries.name, inventory_namespace=entries.namespace
        )
        report_kept(kept, progress)
        skipped = {item.entry.key for item in kept}
        entries = [entry for entry in entries if entry.key not in skipped]
    by_position: dict[tuple[int, int], list[Entry]] = defaultdict(list)
    for entry in set(entries):
        group = entry.api_version.rpartition("/")[0]
        by_position[delete_position(group, entry.kind, entry.wave)].append(entry)
    deadline = time.monotonic() + timeout_seconds
    deleted: list[Entry] = []
    for position in sorted(by_position):
        deleted.extend(
            _delete_wave(cluster, sorted(by_position[position]), progress, deadline, parallelism)
        )
    return deleted


def _delete_one(cluster: Cluster, entry: Entry) -> bool:
    try:
        return cluster.delete(
            entry.api_version, entry.kind, entry.name, entry.namespace, propagation="Foreground"
        )
    except ApiError as failure:
        if failure.reason == "NoKindMatch":
            # The CRD that served this kind is gone, and so are its objects.
            return False
        raise


def _delete_wave(
    cluster: Cluster,
    entries: list[Entry],
    progress: ProgressSink,
    deadline: float,
    parallelism: int,
) -> list[Entry]:
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        existed = list(pool.map(lambda entry: _delete_one(cluster, entry), entries))
    present = [entry for entry, found in zip(entries, existed, strict=True) if found]
    for entry in present:
        log.info("deleting %s", entry.describe())
        progress(ObjectEvent(ref=entry_ref(entry), state=State.TERMINATING, reason="Deleting"))

    groups: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
    for entry in present:
        groups[(entry.api_version, entry.kind, entry.namespace)].add(entry.name)
    for (api_version, kind, namespace), names in groups.items():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadinessTimeout(
                f"{kind} {', '.join(sorted(names))} still exist after the deletion timeout"
            )
        wait_gone(
            cluster,
            cluster.resource(api_version, kind),
            namespace,
            names,
            timeout_seconds=remaining,
        )
    for entry in entries:
        progress(ObjectEvent(ref=entry_ref(entry), state=State.DELETED, reason="Deleted"))
    return present


@dataclass
class DestroyResult:
    """Outcome of `destroy`: the objects deleted, and those kept for other inventories."""

    deleted: list[ObjectRef] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


def destroy(
    cluster: Cluster,
    *,
    inventory_name: str | None = None,
    manifests: Sequence[Manifest] = (),
    namespace: str | None = None,
    inventory_namespace: str | None = None,
    progress: ProgressSink = discard,
    timeout_seconds: float = 300.0,
) -> DestroyResult:
    """Delete an inventory's objects and/or the given manifests' objects, last wave first.

    Returns the objects that existed and were deleted, and those kept because other
    inventories list or need them (see deployer.engine.prune). The inventory ConfigMap
    itself is removed at the end. `generateName` manifests are skipped, since their names
    are only known from an inventory.
    """
    namespace = namespace or cluster.default_namespace
    entries: list[Entry] = []
    if manifests:
        plan = build_plan(
            prepare.resolve_namespaces(cluster, manifests, namespace), default_namespace=namespace
        )
        entries += planned_entries(plan)
    store_in = inventory_namespace or namespace
    if inventory_name:
        stored = inventory.read(cluster, inventory_name, store_in)
        if stored is None and not manifests:
            raise InputError(
                f"inventory {inventory_name} not found in namespace {store_in}; "
                "pass --inventory-namespace or the manifests with -f"
            )
        known = {entry.key for entry in entries}
        entries += [entry for entry in stored or [] if entry.key not in known]
    kept = find_kept(
        cluster, entries, inventory_name=inventory_name or "", inventory_namespace=store_in
    )
    report_kept(kept, progress)
    skipped = {item.entry.key for item in kept}
    deleted = delete_in_reverse(
        cluster,
        [entry for entry in entries if entry.key not in skipped],
        progress=progress,
        timeout_seconds=timeout_seconds,
    )
    if inventory_name:
        inventory.remove(cluster, inventory_name, store_in)
    return DestroyResult([entry_ref(entry) for entry in deleted], kept)
