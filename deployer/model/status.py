"""Readiness states of one object, as the readiness rules report them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.Enum):
    """Where one object stands on its way to ready."""

    PENDING = "Pending"  # not applied yet
    APPLIED = "Applied"  # written, readiness not judged yet
    IN_PROGRESS = "InProgress"
    READY = "Ready"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    DELETED = "Deleted"
    SKIPPED = "Skipped"  # readiness wait turned off for this object


@dataclass(frozen=True)
class Status:
    """A readiness verdict: the state, a short CamelCase reason and a human message."""

    state: State
    reason: str = ""
    message: str = ""

    @property
    def done(self) -> bool:
        """True when waiting on the object can stop, for good or for bad."""
        return self.state in (State.READY, State.FAILED, State.SKIPPED, State.DELETED)
