"""The prune guard: stop an apply whose prune would delete more than a user expects.

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

from collections.abc import Sequence

from deployer.cluster.inventory import Entry
from deployer.errors import Problem
from deployer.model.plan import Plan

# The prune is stopped when it would delete more than this share of the inventory.
MAX_PRUNE_SHARE = 0.5
# ...and at least this many objects, so that replacing the one object of a small
# inventory goes through.
MIN_GUARDED_COUNT = 2
# How many of the objects to be deleted the message names.
LISTED_OBJECTS = 10


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


def risky_prune_problems(name: str, plan: Plan, previous: Sequence[Entry]) -> list[Problem]:
    """Return a Problem when pruning inventory `name` would delete a Namespace or most of it."""
    candidates = sorted(prune_candidates(plan, previous), key=lambda e: e.describe())
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
