"""`deployer diff`: what an apply would change, as unified diffs of YAML.

For each object the server-side dry run gives the object as it would be stored, and a
GET gives the live one. Both drop the fields the server owns (managedFields,
resourceVersion, generation, uid, creationTimestamp, status). Secret `data` and
`stringData` values are masked; on the applied side a value that differs from the live
one shows as `*** (changed)`. Objects that cannot be dry-run yet (their Namespace or CRD is in the
same set and not created) are shown as new, from the manifest. With an inventory, the
objects that a prune would delete show as removed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from deployer.cluster import Cluster, inventory
from deployer.cluster.inventory import Entry
from deployer.engine import prepare
from deployer.engine.deletion import find_kept
from deployer.errors import ApiError, ConflictError, ImmutableFieldError
from deployer.model.objects import Manifest

SERVER_FIELDS = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
MASK = "***"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def normalise(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy without status and the server-owned metadata fields."""
    cleaned = {key: value for key, value in obj.items() if key != "status"}
    metadata = dict(cleaned.get("metadata") or {})
    for key in SERVER_FIELDS:
        metadata.pop(key, None)
    cleaned["metadata"] = metadata
    return cleaned


def mask_secret(obj: dict[str, Any], other: Mapping[str, Any] | None) -> dict[str, Any]:
    """Replace a Secret's values with `***`, marking those that differ from `other`."""
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    # kubectl's client-side apply keeps the whole Secret, values included, in this annotation.
    metadata = dict(obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    if annotations.pop(LAST_APPLIED, None) is not None:
        annotations[LAST_APPLIED] = MASK
        masked["metadata"] = {**metadata, "annotations": annotations}
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, Mapping):
            continue
        before = (other or {}).get(section) or {}
        masked[section] = {
            key: MASK if other is None or before.get(key) == value else f"{MASK} (changed)"
            for key, value in values.items()
        }
    return masked


def to_yaml(obj: Mapping[str, Any] | None) -> list[str]:
    """Dump an object as sorted YAML lines (none for a missing object)."""
    if obj is None:
        return []
    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False).splitlines(True)


def object_diff(
    name: str, live: Mapping[str, Any] | None, desired: Mapping[str, Any] | None
) -> str:
    """Return the unified diff from `live` to `desired` ("" when equal), Secrets masked.

    A `desired` of None is a deletion: every live line shows as removed.
    """
    before = normalise(live) if live is not None else None
    after = normalise(desired) if desired is not None else None
    shown_before = mask_secret(before, None) if before is not None else None
    shown_after = mask_secret(after, before) if after is not None else None
    return "".join(
        difflib.unified_diff(
            to_yaml(shown_before),
            to_yaml(shown_after),
            fromfile=f"live/{name}",
            tofile=f"applied/{name}",
        )
    )


def _desired(cluster: Cluster, manifest: Manifest, force: bool) -> dict[str, Any]:
    try:
        return prepare.send(cluster, manifest, force=force, dry_run=True)
    except ApiError as failure:
        if failure.reason == "NoKindMatch" or failure.status == 404:
            return dict(manifest.body)
        raise


def _live(cluster: Cluster, manifest: Manifest) -> dict[str, Any] | None:
    if not manifest.name:
        return None
    try:
        return cluster.get(manifest.api_version, manifest.kind, manifest.name, manifest.namespace)
    except ApiError as failure:
        if failure.reason == "NoKindMatch":
            return None
        raise


def diff_manifests(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    namespace: str | None = None,
    force: bool = False,
) -> list[tuple[Manifest, str]]:
    """Return (manifest, diff) for every object whose applied form differs from the live one.

    Conflicts with other field managers and immutable-field changes are raised after
    every object was dry-run, all in one error, as apply reports them.
    """
    resolved = prepare.resolve_namespaces(
        cluster, manifests, namespace or cluster.default_namespace
    )
    changed = []
    rejected: list[ApiError] = []
    for manifest in resolved:
        try:
            desired = _desired(cluster, manifest, force)
        except (ConflictError, ImmutableFieldError) as failure:
            rejected.append(failure)
            continue
        text = object_diff(str(manifest.ref), _live(cluster, manifest), desired)
        if text:
            changed.append((manifest, text))
    if rejected:
        raise prepare.joined_conflicts(rejected)
    return changed


def prune_diffs(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    inventory_name: str,
    inventory_namespace: str | None = None,
    namespace: str | None = None,
) -> list[tuple[Entry, str]]:
    """Return (entry, deletion diff) for each live inventory object a prune would delete.

    These are the inventory's objects that are not among `manifests`, as the next apply
    with prune sees them, without those it would keep (see deployer.engine.prune). An
    inventory that does not exist yet prunes nothing.
    Objects with only generateName are never among the manifests, so the ones an earlier
    apply created show as pruned, as apply then deletes them.
    """
    namespace = namespace or cluster.default_namespace
    resolved = prepare.resolve_namespaces(cluster, manifests, namespace)
    store_in = inventory_namespace or namespace
    stored = inventory.read(cluster, inventory_name, store_in) or []
    current = [
        Entry(0, manifest.api_version, manifest.kind, manifest.namespace, manifest.name)
        for manifest in resolved
        if manifest.name
    ]
    keep = {entry.key for entry in current}
    candidates = [entry for entry in stored if entry.key not in keep]
    kept = find_kept(
        cluster,
        candidates,
        inventory_name=inventory_name,
        inventory_namespace=store_in,
        current=current,
    )
    skipped = {item.entry.key for item in kept}
    pruned = []
    for entry in sorted(candidates, key=lambda item: (-item.wave, item.describe())):
        if entry.key in skipped:
            continue
        live = _live_entry(cluster, entry)
        if live is not None:
            pruned.append((entry, object_diff(entry.describe(), live, None)))
    return pruned


def _live_entry(cluster: Cluster, entry: Entry) -> dict[str, Any] | None:
    try:
        return cluster.get(entry.api_version, entry.kind, entry.name, entry.namespace)
    except ApiError as failure:
        if failure.reason == "NoKindMatch":
            return None  # the kind is gone, so its objects are too
        raise
