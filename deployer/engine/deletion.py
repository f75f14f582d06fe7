"""Delete objects wave by wave in reverse order, waiting until each wave is gone.

Used by prune (objects that left the manifests), by destroy and by the template kinds'
destroy. The order is `deployer.plan.ranks.delete_position`: reverse apply waves, then
CRDs, then Namespaces. Deletion uses foreground propagation, so a Deployment is gone
only once its ReplicaSets and pods are, and every object of one deletion wave is gone
before the next wave starts.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from deployer.cluster import Cluster
from deployer.cluster.inventory import Entry
from deployer.cluster.watch import wait_gone
from deployer.errors import ApiError, ReadinessTimeout
from deployer.model.events import ObjectEvent, ProgressSink
from deployer.model.objects import ObjectRef
from deployer.model.status import State
from deployer.plan.ranks import delete_position

log = logging.getLogger(__name__)


def entry_ref(entry: Entry) -> ObjectRef:
    """Return the ObjectRef of an inventory entry."""
    return ObjectRef(entry.api_version.rpartition("/")[0], entry.kind, entry.namespace, entry.name)


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
    """
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
