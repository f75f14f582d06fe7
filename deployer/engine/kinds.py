"""The contract between the workflow runner and the template kinds that deploy things.

The runner resolves a template's inputs, then hands the template body (for example the
mapping under `manifests:` or `helm:`) to the kind's `run`, and later to its `destroy`.

Output parameters: the runner passes the template's `outputs.parameters` list, as
declared and after `{{...}}` substitution, in `TemplateContext.output_parameters`. A kind
fills `TemplateResult.outputs[name]` for each entry with `valueFrom.jsonPath` (read from
the live object named by `valueFrom.object`, see docs/templates.md) and leaves entries
without `jsonPath` (`value`, `valueFrom.parameter`, `expression`, ...) to the runner. It
passes every secret output value to `TemplateContext.register_secret` before returning.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deployer.model.events import ProgressSink, discard
from deployer.model.objects import ObjectRef


@dataclass
class TemplateContext:
    """What a template kind needs to run one node of a workflow."""

    cluster: Any  # deployer.cluster.client.Cluster; typed loosely to keep engine imports light
    base_dir: Path  # folder of the workflow file; relative paths in the template resolve here
    parameters: Mapping[str, str]  # the node's resolved input parameters
    workflow_parameters: Mapping[str, str]
    namespace: str  # default namespace for objects that name none
    run_name: str
    node_name: str
    progress: ProgressSink = discard
    stop: threading.Event = field(default_factory=threading.Event)
    timeout_seconds: float | None = None
    dry_run: bool = False
    # The template's `outputs.parameters` entries, as declared; see the module docstring.
    output_parameters: Sequence[Mapping[str, Any]] = ()
    # The workflow's metadata.name (or generateName without its random suffix). Template
    # kinds name their inventories after it, so a later run of the same workflow prunes
    # and destroys the same objects. Empty: the kinds fall back to run_name.
    workflow_name: str = ""
    # Called with each output value that must not be shown, such as one read from a
    # Secret. The runner masks the value in the run's record, progress and errors.
    register_secret: Callable[[str], None] = field(default=lambda _value: None)


@dataclass
class TemplateResult:
    """Outcome of one template node: phase, message, output parameters, objects it owns."""

    phase: str  # "Succeeded", "Failed" or "Error", as in Argo's node phases
    message: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    result: str | None = None  # outputs.result
    objects: list[ObjectRef] = field(default_factory=list)


class TemplateKind(Protocol):
    """A deployer template kind: manifests, helm, jsonnet or fixture."""

    def run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult: ...

    def destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult: ...
