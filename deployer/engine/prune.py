"""What a prune or destroy keeps, and the guard that stops a prune a user hardly means.

Kept objects: a prune or destroy never deletes
- a Namespace that objects of the current apply are in, or that contains the inventory,
  nor a CustomResourceDefinition whose kinds objects of the current apply use (these stay
  in the inventory, so a later prune deletes them once nothing uses them);
- an object that another inventory also lists (it leaves this inventory, and the other
  one deletes it), nor a Namespace or CRD that objects another inventory lists need;
- a cluster-scoped object when the inventories of some namespaces could not be listed,
  since one of them may list or need it (see `kept_for_others`).

The guard:

A prune deletes the inventory's objects that left the manifests. Two kinds of prune are
rarely meant when they happen by default, so `apply` stops before the first write and
tells the user to pass `--prune` (delete them) or `--no-prune` (keep them):

- the prune would delete a Namespace, which deletes everything in it, also objects that
  no inventory lists (such as the PersistentVolumeClaims of a StatefulSet);
- the prune would delete more than half of the inventory's objects, and at least two
  of them, as when a glob or a Jinja2 condition matches far less than it used to.

An object created from `generateName` is replaced on every apply, so an inventory entry
that a `generateName` manifest of the plan replaces does not count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from deployer.cluster.inventory import Entry, Stored
from deployer.errors import Problem
from deployer.model.plan import Plan

# The prune is stopped when it would delete more than this share of the inventory.
MAX_PRUNE_SHARE = 0.5
# ...and at least this many objects, so that replacing the one object of a small
# inventory goes through.
MIN_GUARDED_COUNT = 2
# How many of the objects to be deleted the message names.
LISTED_OBJECTS = 10

CRD_GROUP = "apiextensions.k8s.io"

# Returns the name (`plural.group`) of the CustomResourceDefinition that serves an
# entry's kind, or None for a built-in or unknown kind.
CrdOf = Callable[[Entry], str | None]

Key = tuple[str, str, str | None, str]  # Entry.key


@dataclass(frozen=True)
class Kept:
    """An object that a prune or destroy leaves in the cluster, and why."""

    entry: Entry
    reason: str  # follows "kept <object>: " in messages, with how to delete it on purpose
    stays_listed: bool  # False when another inventory lists it, so this one drops it

    def describe(self) -> str:
        return f"kept {self.entry.describe()}: {self.reason}"


def _is_namespace(entry: Entry) -> bool:
    return entry.kind == "Namespace" and entry.api_version == "v1"


def _is_crd(entry: Entry) -> bool:
    return entry.kind == "CustomResourceDefinition" and entry.api_version.startswith(CRD_GROUP)


def _users(
    candidates: Sequence[Entry], users: Iterable[Entry], crd_of: CrdOf
) -> tuple[Counter[str], Counter[str]]:
    """Count the `users` in each candidate Namespace and of each candidate CRD's kinds.

    Returns (objects per namespace name, objects per CRD name).
    """
    namespaces = {entry.name for entry in candidates if _is_namespace(entry)}
    crd_groups = {entry.name.partition(".")[2] for entry in candidates if _is_crd(entry)}
    in_namespace: Counter[str] = Counter()
    of_crd: Counter[str] = Counter()
    for user in users:
        if user.namespace in namespaces:
            in_namespace[user.namespace] += 1
        if user.api_version.rpartition("/")[0] in crd_groups:
            crd = crd_of(user)
            if crd is not None:
                of_crd[crd] += 1
    return in_namespace, of_crd


def kept_in_use(
    candidates: Sequence[Entry],
    current: Iterable[Entry],
    *,
    crd_of: CrdOf,
    inventory: str,
    inventory_namespace: str,
) -> list[Kept]:
    """Return the Namespaces and CRDs among `candidates` that the current apply still needs.

    `current` are the objects of the current apply; `inventory` and `inventory_namespace`
    name the inventory being pruned, whose namespace is kept too.
    """
    in_namespace, of_crd = _users(candidates, current, crd_of)
    kept = []
    for entry in candidates:
        if _is_namespace(entry) and in_namespace[entry.name]:
            reason = (
                f"{in_namespace[entry.name]} object(s) of this apply are in it; to delete it, "
                "remove them from the manifests or move them to another namespace, then "
                "apply again"
            )
        elif _is_namespace(entry) and entry.name == inventory_namespace:
            reason = (
                f"it contains inventory {inventory}; to delete it, store the inventory "
                "elsewhere with --inventory-namespace, then apply again"
            )
        elif _is_crd(entry) and of_crd[entry.name]:
            reason = (
                f"{of_crd[entry.name]} custom resource(s) of this apply are of its kinds; to "
                "delete it, remove them from the manifests, then apply again"
            )
        else:
            continue
        kept.append(Kept(entry, reason, stays_listed=True))
    return kept


def kept_for_others(
    candidates: Sequence[Entry],
    others: Sequence[Stored],
    *,
    crd_of: CrdOf,
    complete: bool,
) -> list[Kept]:
    """Return the `candidates` that other inventories list or need.

    `others` are the other inventories of the cluster, and `complete` states whether they
    are all of them. When they are not, a cluster-scoped candidate is kept, because an
    inventory in a namespace that could not be listed may list it or objects in it. A
    namespaced candidate is checked against the inventories that could be listed.
    """
    listing: dict[Key, list[str]] = defaultdict(list)
    in_namespace: dict[str, Counter[str]] = defaultdict(Counter)
    of_crd: dict[str, Counter[str]] = defaultdict(Counter)
    for other in others:
        for entry in other.entries:
            listing[entry.key].append(other.describe())
        namespaces, crds = _users(candidates, other.entries, crd_of)
        for name, count in namespaces.items():
            in_namespace[name][other.describe()] += count
        for name, count in crds.items():
            of_crd[name][other.describe()] += count
    kept = []
    for entry in candidates:
        if entry.key in listing:
            names = ", ".join(sorted(set(listing[entry.key])))
            kept.append(Kept(entry, f"also in inventory {names}", stays_listed=False))
            continue
        users = in_namespace[entry.name] if _is_namespace(entry) else Counter[str]()
        if _is_crd(entry):
            users = of_crd[entry.name]
        if users:
            counts = ", ".join(
                f"{count} in inventory {name}" for name, count in sorted(users.items())
            )
            what = "objects in it" if _is_namespace(entry) else "custom resources of its kinds"
            kept.append(Kept(entry, f"other inventories list {what}: {counts}", stays_listed=True))
        elif not complete and entry.namespace is None:
            reason = (
                "listing the inventories of all namespaces is forbidden, so another "
                "inventory may need it; delete it with kubectl if no other instance uses it"
            )
            kept.append(Kept(entry, reason, stays_listed=True))
    return kept


def planned_entries(plan: Plan) -> list[Entry]:
    """Return the inventory entries of a plan's objects that have a name."""
    return [
        Entry(wave.index, m.api_version, m.kind, m.namespace, m.name)
        for wave in plan.waves
        for m in wave.manifests
        if m.name
    ]


def prune_candidates(plan: Plan, previous: Sequence[Entry]) -> list[Entry]:
    """Return the entries of `previous` that the plan no longer has, as a prune deletes them.

    Entries that a `generateName` manifest of the plan replaces are left out.
    """
    keep = {entry.key for entry in planned_entries(plan)}
    generated = [
        (m.group, m.kind, m.namespace, m.generate_name)
        for m in plan.manifests()
        if not m.name and m.generate_name
    ]
    candidates = []
    for entry in previous:
        if entry.key in keep:
            continue
        group, kind, namespace, name = entry.key
        if any(
            (group, kind, namespace) == (g_group, g_kind, g_namespace) and name.startswith(prefix)
            for g_group, g_kind, g_namespace, prefix in generated
        ):
            continue
        candidates.append(entry)
    return candidates


def risky_prune_problems(
    name: str, plan: Plan, previous: Sequence[Entry], *, kept: Collection[Key] = ()
) -> list[Problem]:
    """Return a Problem when pruning inventory `name` would delete a Namespace or most of it.

    `kept` are the keys of the entries that the prune keeps, which do not count.
    """
    candidates = sorted(
        (entry for entry in prune_candidates(plan, previous) if entry.key not in kept),
        key=lambda e: e.describe(),
    )
    namespaces = [e for e in candidates if e.kind == "Namespace" and e.api_version == "v1"]
    share = len(candidates) > MAX_PRUNE_SHARE * len(previous)
    if not namespaces and not (share and len(candidates) >= MIN_GUARDED_COUNT):
        return []
    if len(namespaces) == 1:
        reason = f"Namespace {namespaces[0].name} and everything in it"
    elif namespaces:
        listed = ", ".join(e.name for e in namespaces)
        reason = f"Namespaces {listed} and everything in them"
    else:
        reason = f"{len(candidates)} of its {len(previous)} objects"
    names = [e.describe() for e in candidates[:LISTED_OBJECTS]]
    if len(candidates) > LISTED_OBJECTS:
        names.append(f"and {len(candidates) - LISTED_OBJECTS} more")
    message = (
        f"the prune would delete {reason}. These objects of the inventory are no longer "
        f"in the manifests: {', '.join(names)}. Pass --prune to delete them, or --no-prune "
        "to keep them"
    )
    return [Problem(f"inventory {name}", "", message)]
