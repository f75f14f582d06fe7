"""The node book: thread-safe bookkeeping of a run's node records while the run is going.

Node ids are derived from the run name and the node's display path, so a retry of the run
gives every node the id it had before and can find what already succeeded.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any

from deployer.engine.workflow.pods import short_hash
from deployer.model import run as runmodel
from deployer.model.run import NodeRecord, RunRecord

log = logging.getLogger(__name__)

NodeListener = Callable[[NodeRecord], None]


def node_id(run: str, name: str) -> str:
    """Return the id of the node with display path `name` in run `run`."""
    return f"{run}-{short_hash(name)}"


class NodeBook:
    """Creates and updates the node records of one run and reports each change."""

    def __init__(self, record: RunRecord, *, previous: RunRecord | None = None) -> None:
        self.record = record
        self.previous = previous
        self.lock = threading.RLock()
        self.listeners: list[NodeListener] = []

    def _notify(self, node: NodeRecord) -> None:
        for listener in self.listeners:
            listener(copy.copy(node))

    def create(
        self, *, name: str, display: str, type: str, template: str, parent: str | None
    ) -> NodeRecord:
        """Add a Pending node under `parent` (or as a root) and return it."""
        node = NodeRecord(
            id=node_id(self.record.name, name),
            name=name,
            display_name=display,
            type=type,
            template=template,
            parent=parent,
        )
        with self.lock:
            self.record.nodes[node.id] = node
            if parent is None:
                self._set_root(node)
            else:
                siblings = self.record.nodes[parent].children
                if node.id not in siblings:
                    siblings.append(node.id)
        self._notify(node)
        return node

    def _set_root(self, node: NodeRecord) -> None:
        """Record a parentless node as the run's root, or as the exit root after it.

        The roots are set when the node is created, so `deployer get` and `deployer watch`
        draw the tree of a run that is still going.
        """
        if self.record.root is None or self.record.root == node.id:
            self.record.root = node.id
        elif self.record.exit_root is None:
            self.record.exit_root = node.id

    def start(self, node: NodeRecord, *, inputs: dict[str, str] | None = None) -> None:
        with self.lock:
            node.phase = runmodel.RUNNING
            node.started = node.started or runmodel.now_rfc3339()
            if inputs is not None:
                node.inputs = dict(inputs)
        log.info("node %s (%s) is running", node.name, node.type)
        self._notify(node)

    def update(self, node: NodeRecord, **fields: Any) -> None:
        """Change fields of a node that is still going (pod name, message) and report it."""
        with self.lock:
            for key, value in fields.items():
                setattr(node, key, value)
        self._notify(node)

    def finish(self, node: NodeRecord, phase: str, message: str = "", **fields: Any) -> None:
        """Set a node's final phase, message and any other fields, and stamp its finish time."""
        with self.lock:
            node.phase = phase
            node.message = message
            for key, value in fields.items():
                setattr(node, key, value)
            node.started = node.started or runmodel.now_rfc3339()
            node.finished = runmodel.now_rfc3339()
        if phase in runmodel.FAILED_PHASES:
            log.info("node %s %s: %s", node.name, phase.lower(), message)
        else:
            log.info("node %s %s", node.name, phase.lower())
        self._notify(node)

    def reusable(self, name: str) -> NodeRecord | None:
        """Return the node of the previous attempt with this path if it succeeded or was skipped."""
        if self.previous is None:
            return None
        old = self.previous.nodes.get(node_id(self.previous.name, name))
        if old is None or old.phase not in (runmodel.SUCCEEDED, runmodel.SKIPPED):
            return None
        return old

    def end_reuse(self) -> None:
        """Make every later node run anew instead of reusing the previous attempt's node."""
        with self.lock:
            self.previous = None

    def adopt(self, old: NodeRecord, parent: str | None) -> NodeRecord:
        """Copy a finished node and its descendants from the previous attempt into this run."""
        assert self.previous is not None
        with self.lock:
            node = copy.deepcopy(old)
            node.parent = parent
            self.record.nodes[node.id] = node
            if parent is None:
                self._set_root(node)
            elif node.id not in self.record.nodes[parent].children:
                self.record.nodes[parent].children.append(node.id)
            for child_id in old.children:
                child = self.previous.nodes.get(child_id)
                if child is not None:
                    self.adopt(child, node.id)
        log.info("node %s %s in an earlier attempt; reusing it", node.name, node.phase.lower())
        self._notify(node)
        return node

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.record.to_dict())
