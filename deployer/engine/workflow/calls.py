"""Small shared types of the runner: a template call, a node outcome, backoff and deadlines."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from deployer.engine.timeouts import parse_duration
from deployer.model.workflow import Backoff, Template, Workflow

# Node type of each template kind.
NODE_TYPES = {
    "container": "Pod",
    "script": "Pod",
    "resource": "Resource",
    "steps": "Steps",
    "dag": "DAG",
    "suspend": "Suspend",
    "manifests": "Manifests",
    "helm": "Helm",
    "jsonnet": "Jsonnet",
    "fixture": "Fixture",
}


@dataclass(frozen=True)
class Call:
    """One invocation of a template: where its node goes and what it is given."""

    name: str  # display path of the node, e.g. `hello[0].step-a`
    display: str  # last part of the path
    parent: str | None  # parent node id
    template: Template
    source: Workflow  # the document the template belongs to (for names it calls)
    arguments: Mapping[str, str]
    depth: int = 0  # nesting of template calls, to stop runaway recursion
    deadline: float | None = None  # time.monotonic() by which the node must end


@dataclass
class Outcome:
    """The end of one node: phase, message and whatever it produced."""

    phase: str
    message: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    result: str | None = None
    exit_code: int | None = None


def backoff_delay(backoff: Backoff | None, attempt: int, *, what: str) -> float:
    """Return the wait in seconds before retry number `attempt + 1` (attempt counts from 0)."""
    if backoff is None or backoff.duration is None:
        return 0.0
    base = parse_duration(backoff.duration, what=what)
    factor = 1.0 if backoff.factor is None else float(backoff.factor)
    return float(base * factor**attempt)


def deadline_after(seconds: float | None, outer: float | None) -> float | None:
    """Return the earlier of `outer` and now + `seconds`."""
    if seconds is None:
        return outer
    mine = time.monotonic() + seconds
    return mine if outer is None else min(mine, outer)
