"""Inputs a readiness rule reads besides the object itself, and the type of a rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deployer.model.status import State, Status
from deployer.readiness.fields import metadata, status


@dataclass(frozen=True)
class Facts:
    """Related live objects the caller looked up: a workload's pods, the StorageClasses."""

    pods: Sequence[Mapping[str, Any]] = ()
    storage_classes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # A Deployment's ReplicaSets; None when the caller did not look them up.
    replica_sets: Sequence[Mapping[str, Any]] | None = None


# A kind rule: live object and facts to a readiness verdict.
Rule = Callable[[Mapping[str, Any], Facts], Status]


def in_progress(reason: str, message: str) -> Status:
    return Status(State.IN_PROGRESS, reason, message)


def ready(reason: str = "", message: str = "") -> Status:
    return Status(State.READY, reason, message)


def failed(reason: str, message: str) -> Status:
    return Status(State.FAILED, reason, message)


def generation_lag(obj: Mapping[str, Any], *, required: bool) -> Status | None:
    """Return IN_PROGRESS while the controller has not yet seen the latest spec.

    With `required`, a missing `status.observedGeneration` also counts as not seen. That is
    right for the built-in controllers, which always write it, and wrong for objects whose
    controllers never do.
    """
    generation = metadata(obj).get("generation")
    observed = status(obj).get("observedGeneration")
    if observed is None:
        if not required:
            return None
        wanted = f" {generation}" if generation is not None else ""
        return in_progress(
            "GenerationNotObserved", f"waiting for the controller to observe generation{wanted}"
        )
    if generation is not None and observed != generation:
        return in_progress(
            "GenerationNotObserved",
            f"waiting for the controller to observe generation {generation} (observed {observed})",
        )
    return None
