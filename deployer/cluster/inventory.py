"""The inventory: which objects an apply wrote, stored in the cluster for prune and destroy.

Stored as the ConfigMap `deployer-inventory-<name>` in the inventory namespace (the
apply's default namespace unless set), labelled `deployer.dev/inventory: <name>` so that
`list_all` finds every inventory of the cluster. Its `objects` key is a JSON list of
entries with apiVersion, kind, namespace, name and wave. Each apply writes it once, at
the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from deployer.errors import ApiError, InputError

if TYPE_CHECKING:
    from deployer.cluster.client import Cluster

log = logging.getLogger(__name__)

PREFIX = "deployer-inventory-"
LABEL = "deployer.dev/inventory"
_VALID_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True, order=True)
class Entry:
    """One object an apply wrote, with the wave it was applied in."""

    wave: int
    api_version: str
    kind: str
    namespace: str | None
    name: str

    def describe(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.name}"
            if self.namespace
            else f"{self.kind} {self.name}"
        )

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Identity without the wave: the group part of apiVersion, kind, namespace, name."""
        group = self.api_version.rpartition("/")[0]
        return group, self.kind, self.namespace, self.name


def default_name(
    paths: Sequence[str],
    *,
    namespace: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> str:
    """Derive the inventory name for a set of `-f` arguments, `-n` and `-p` parameters.

    The name is a slug of the first path plus 10 hex digits of a SHA-256 over every path,
    normalised with `os.path.normpath` and sorted, so `-f ./app/ -f db.yaml` and
    `-f db.yaml -f app` give the same name. Paths are not resolved, so the same relative
    paths from another folder also give the same name.

    A namespace or parameters (names and values, in any order) go into the digest too, so
    `-p ns=t1` and `-p ns=t2` record two instances in two inventories. Without either,
    the name is that of the paths alone.
    """
    normalised = sorted({os.path.normpath(path) for path in paths})
    text = "\n".join(normalised)
    if namespace or parameters:
        # A path cannot contain NUL, so the paths and the JSON cannot run into each other.
        instance = {"namespace": namespace or "", "parameters": sorted((parameters or {}).items())}
        text += "\0" + json.dumps(instance, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", (normalised[0] if normalised else "").lower())
    slug = slug.strip("-")[:40].strip("-")
    return f"{slug}-{digest}" if slug else digest


def config_map_name(name: str) -> str:
    """Return the ConfigMap name for inventory `name`; InputError if it is not a valid name."""
    full = PREFIX + name
    if not _VALID_NAME.match(name) or len(full) > 253:
        raise InputError(
            f"inventory name {name!r} is invalid: use lowercase letters, digits, '-' and '.'"
        )
    return full


def encode(entries: list[Entry]) -> str:
    """Serialise entries as the ConfigMap's `objects` value."""
    return json.dumps([asdict(e) for e in sorted(set(entries))], separators=(",", ":"))


def decode(text: str) -> list[Entry]:
    """Parse the `objects` value written by `encode`."""
    return [Entry(**item) for item in json.loads(text or "[]")]


class StoredEntries(list[Entry]):
    """The entries of one stored inventory, with the inventory's name and namespace.

    `read` returns them, so that a deletion of the entries can tell which inventory they
    belong to (see deployer.engine.deletion.delete_in_reverse).
    """

    def __init__(self, entries: Iterable[Entry], *, name: str, namespace: str) -> None:
        super().__init__(entries)
        self.name = name
        self.namespace = namespace


@dataclass(frozen=True)
class Stored:
    """One inventory found in the cluster: its name, namespace and entries."""

    name: str
    namespace: str
    entries: tuple[Entry, ...]

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"


def read(cluster: Cluster, name: str, namespace: str) -> list[Entry] | None:
    """Return the stored entries of inventory `name`, or None when it does not exist.

    The list is a StoredEntries, which also names the inventory.
    """
    stored = cluster.get("v1", "ConfigMap", config_map_name(name), namespace)
    if stored is None:
        return None
    entries = decode(str((stored.get("data") or {}).get("objects") or "[]"))
    return StoredEntries(entries, name=name, namespace=namespace)


def list_all(cluster: Cluster, *, fallback: Iterable[str] = ()) -> tuple[list[Stored], bool]:
    """List the inventories of every namespace, found by their label.

    When listing ConfigMaps across namespaces is forbidden, the inventories of the
    `fallback` namespaces are listed instead, skipping those where that is forbidden too.
    Returns the inventories and whether they are all of the cluster's.
    """
    try:
        found, _ = cluster.list("v1", "ConfigMap", None, label_selector=LABEL)
        complete = True
    except ApiError as failure:
        if failure.status != 403:
            raise
        found, complete = [], False
        for namespace in sorted(set(fallback)):
            try:
                found += cluster.list("v1", "ConfigMap", namespace, label_selector=LABEL)[0]
            except ApiError as denied:
                if denied.status != 403:
                    raise
    inventories = []
    for config_map in found:
        metadata = config_map.get("metadata") or {}
        labels = metadata.get("labels") or {}
        name = str(labels.get(LABEL) or str(metadata.get("name") or "").removeprefix(PREFIX))
        namespace = str(metadata.get("namespace") or "")
        try:
            entries = decode(str((config_map.get("data") or {}).get("objects") or "[]"))
        except (ValueError, TypeError) as invalid:
            # What it lists is unknown, so the result cannot count as complete.
            log.warning("inventory %s in namespace %s is unreadable: %s", name, namespace, invalid)
            complete = False
            continue
        inventories.append(Stored(name, namespace, tuple(entries)))
    return inventories, complete


def write(
    cluster: Cluster, name: str, namespace: str, entries: list[Entry], *, dry_run: bool = False
) -> None:
    """Store entries as inventory `name` with one server-side apply (or only dry-run it)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(name),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "deployer", LABEL: name},
        },
        "data": {"objects": encode(entries)},
    }
    cluster.apply(body, force=True, dry_run=dry_run)


def remove(cluster: Cluster, name: str, namespace: str) -> bool:
    """Delete inventory `name`; False when it did not exist."""
    return cluster.delete("v1", "ConfigMap", config_map_name(name), namespace)
