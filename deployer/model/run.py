"""Run and node records of workflow runs: plain data with conversion to and from JSON dicts.

A run record is what `deployer get RUN` shows and what `deployer retry RUN` resumes from. It
contains the workflow document and the submitted parameters, so a retry can rebuild the run
without the original files, and one node record per node of the run, keyed by node id.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Node phases, as Argo Workflows names them.
PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
ERROR = "Error"
SKIPPED = "Skipped"
OMITTED = "Omitted"

DONE_PHASES = frozenset({SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED})
FAILED_PHASES = frozenset({FAILED, ERROR})

# Node types. Pod, Steps, StepGroup, DAG, TaskGroup, Retry, Skipped and Suspend follow Argo;
# Resource, Manifests, Helm, Jsonnet and Fixture are the node types of non-pod templates.
NODE_TYPES = frozenset(
    {
        "Workflow",
        "Pod",
        "Steps",
        "StepGroup",
        "DAG",
        "TaskGroup",
        "Retry",
        "Skipped",
        "Suspend",
        "Resource",
        "Manifests",
        "Helm",
        "Jsonnet",
        "Fixture",
    }
)


def now_rfc3339() -> str:
    """Return the current UTC time in RFC 3339 form with second precision."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime.datetime:
    """Parse a timestamp written by `now_rfc3339`."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


@dataclass
class NodeRecord:
    """One node of a run: a template invocation, a step group, a loop child or a retry attempt."""

    id: str
    name: str  # Argo-style display path, e.g. `hello[0].step-a(0:x)`
    display_name: str  # the last part of `name`, e.g. `step-a(0:x)`
    type: str
    template: str = ""
    phase: str = PENDING
    started: str | None = None
    finished: str | None = None
    message: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    result: str | None = None  # outputs.result
    exit_code: int | None = None
    pod_name: str | None = None
    children: list[str] = field(default_factory=list)
    parent: str | None = None

    @property
    def done(self) -> bool:
        return self.phase in DONE_PHASES

    def duration_seconds(self) -> float | None:
        """Return seconds from start to finish (or to now while running); None if not started."""
        if not self.started:
            return None
        end = parse_rfc3339(self.finished) if self.finished else datetime.datetime.now(datetime.UTC)
        return (end - parse_rfc3339(self.started)).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": self.type,
            "templateName": self.template,
            "phase": self.phase,
            "startedAt": self.started,
            "finishedAt": self.finished,
            "message": self.message,
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "result": self.result,
            "exitCode": self.exit_code,
            "podName": self.pod_name,
            "children": list(self.children),
            "parent": self.parent,
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeRecord:
        exit_code = data.get("exitCode")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            display_name=str(data.get("displayName") or data["name"]),
            type=str(data.get("type") or "Pod"),
            template=str(data.get("templateName") or ""),
            phase=str(data.get("phase") or PENDING),
            started=data.get("startedAt"),
            finished=data.get("finishedAt"),
            message=str(data.get("message") or ""),
            inputs={str(k): str(v) for k, v in (data.get("inputs") or {}).items()},
            outputs={str(k): str(v) for k, v in (data.get("outputs") or {}).items()},
            result=data.get("result"),
            exit_code=None if exit_code is None else int(exit_code),
            pod_name=data.get("podName"),
            children=[str(c) for c in data.get("children") or []],
            parent=data.get("parent"),
        )


@dataclass
class RunRecord:
    """One workflow run: identity, phase, what was submitted and every node so far."""

    name: str
    namespace: str  # where the run's pods and default objects go
    workflow: dict[str, Any]  # the submitted Workflow document, parameters not yet applied
    source_file: str = ""
    parameters: dict[str, str] = field(
        default_factory=dict
    )  # secret values are `***` in the stored record
    masked: list[str] = field(default_factory=list)  # parameter names whose values are masked
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # WorkflowTemplates used
    phase: str = PENDING
    message: str = ""
    started: str | None = None
    finished: str | None = None
    attempt: int = 0  # 0 for the first run, +1 for each `deployer retry`
    client: str = ""  # `host:pid` of the process running it
    heartbeat: str | None = None  # RFC 3339 time of the running process's last sign of life
    root: str | None = None  # id of the entrypoint node
    exit_root: str | None = None  # id of the onExit node
    nodes: dict[str, NodeRecord] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.phase in DONE_PHASES

    def node_by_name(self, name: str) -> NodeRecord | None:
        """Find a node by its display path or its short display name (first match)."""
        for node in self.nodes.values():
            if node.name == name:
                return node
        for node in self.nodes.values():
            if node.display_name == name or node.id == name:
                return node
        return None

    def walk(self, node_id: str | None = None, depth: int = 0) -> Iterator[tuple[int, NodeRecord]]:
        """Yield (depth, node) in tree order from `node_id`, or from both roots when None."""
        starts = [node_id] if node_id else [n for n in (self.root, self.exit_root) if n]
        for start in starts:
            node = self.nodes.get(start)
            if node is None:
                continue
            yield depth, node
            for child in node.children:
                yield from self.walk(child, depth + 1)

    def failures(self) -> list[dict[str, Any]]:
        """List failed leaf nodes in the shape of Argo's `workflow.failures`."""
        found = []
        for node in self.nodes.values():
            if node.phase in FAILED_PHASES and not node.children:
                found.append(
                    {
                        "displayName": node.display_name,
                        "message": node.message,
                        "templateName": node.template,
                        "phase": node.phase,
                        "podName": node.pod_name or "",
                        "finishedAt": node.finished or "",
                    }
                )
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "phase": self.phase,
            "message": self.message,
            "startedAt": self.started,
            "finishedAt": self.finished,
            "attempt": self.attempt,
            "client": self.client,
            "heartbeat": self.heartbeat,
            "sourceFile": self.source_file,
            "parameters": dict(self.parameters),
            "masked": list(self.masked),
            "root": self.root,
            "exitRoot": self.exit_root,
            "workflow": self.workflow,
            "templates": self.templates,
            "nodes": {node_id: node.to_dict() for node_id, node in self.nodes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        nodes = {
            str(node_id): NodeRecord.from_dict(node)
            for node_id, node in (data.get("nodes") or {}).items()
        }
        return cls(
            name=str(data["name"]),
            namespace=str(data.get("namespace") or "default"),
            workflow=dict(data.get("workflow") or {}),
            source_file=str(data.get("sourceFile") or ""),
            parameters={str(k): str(v) for k, v in (data.get("parameters") or {}).items()},
            masked=[str(m) for m in data.get("masked") or []],
            templates={str(k): dict(v) for k, v in (data.get("templates") or {}).items()},
            phase=str(data.get("phase") or PENDING),
            message=str(data.get("message") or ""),
            started=data.get("startedAt"),
            finished=data.get("finishedAt"),
            attempt=int(data.get("attempt") or 0),
            client=str(data.get("client") or ""),
            heartbeat=data.get("heartbeat"),
            root=data.get("root"),
            exit_root=data.get("exitRoot"),
            nodes=nodes,
        )
