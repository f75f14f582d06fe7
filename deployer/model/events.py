"""Progress events: one per object state change, consumed by the CLI views and run records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from deployer.model.objects import ObjectRef
from deployer.model.status import State


@dataclass(frozen=True)
class ObjectEvent:
    """An object changed state: which object, in which wave and step, to what, and why."""

    ref: ObjectRef
    state: State
    reason: str = ""
    message: str = ""
    wave: int | None = None
    step: str | None = None
    at: float = field(default_factory=time.time)


ProgressSink = Callable[[ObjectEvent], None]


def discard(_event: ObjectEvent) -> None:
    """Progress sink that drops every event."""
