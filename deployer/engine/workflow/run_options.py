"""Settings of one run, and the record and workflow variables the run starts with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.engine.workflow import liveness
from deployer.engine.workflow.arguments import check_run_name, make_run_name
from deployer.engine.workflow.masking import Masker, looks_secret
from deployer.engine.workflow.nodes import NodeListener
from deployer.engine.workflow.record_writer import LOST_AFTER_SECONDS
from deployer.model import run as runmodel
from deployer.model.events import ProgressSink, discard
from deployer.model.run import RunRecord
from deployer.model.workflow import Workflow

# Template calls nested deeper than this fail, so a recursion that never stops ends clearly.
MAX_DEPTH = 50


@dataclass
class RunOptions:
    """Settings of one run besides the workflow; every field has a usable default."""

    namespace: str = "default"  # where pods and objects without a namespace go
    parameters: Mapping[str, str] = field(default_factory=dict)  # `-p NAME=VALUE` overrides
    templates: Mapping[str, Workflow] = field(default_factory=dict)  # WorkflowTemplates by name
    run_name: str | None = None  # None: metadata.name, else generateName + 5 characters
    base_dir: Path = field(default_factory=Path.cwd)  # folder of the workflow file
    document: dict[str, Any] = field(default_factory=dict)  # the Workflow document to record
    template_documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous: RunRecord | None = None  # the record a `deployer retry` continues
    max_depth: int = MAX_DEPTH
    # Seconds without a successful record write after which the run stops as Error.
    record_lost_after: float = LOST_AFTER_SECONDS
    listeners: list[NodeListener] = field(default_factory=list)
    # Receives the object events of deployer-kind nodes (manifests, helm, jsonnet, fixture),
    # each tagged with its node name in `step` and with secret parameter values masked.
    progress: ProgressSink = discard


def new_record(
    workflow: Workflow, options: RunOptions, parameters: Mapping[str, str], masker: Masker
) -> RunRecord:
    """Build the record of a run before it starts, and add its secret values to `masker`.

    A retry (`options.previous`) keeps the name and workflow file of the run it continues.
    """
    previous = options.previous
    if previous is not None:
        name, source_file = previous.name, previous.source_file
    else:
        name = options.run_name or make_run_name(workflow)
        check_run_name(name)
        # Absolute, so that `deployer retry` from any folder finds the files that
        # deployer-kind steps read relative to the workflow file.
        source = workflow.source_file
        source_file = str(Path(source).resolve()) if source else ""
    masked = sorted(k for k in parameters if looks_secret(k))
    for key in masked:
        masker.add(parameters[key])
    return RunRecord(
        name=name,
        namespace=options.namespace,
        workflow=options.document,
        source_file=source_file,
        parameters=dict(parameters),
        masked=masked,
        templates=options.template_documents,
        attempt=previous.attempt + 1 if previous else 0,
        client=liveness.client_id(),
        started=runmodel.now_rfc3339(),
    )


def global_vars(record: RunRecord, parameters: Mapping[str, str]) -> dict[str, str]:
    """Return the variables every template of the run can read: `workflow.*`."""
    values = {
        "workflow.name": record.name,
        "workflow.namespace": record.namespace,
        "workflow.uid": record.name,
        "workflow.creationTimestamp": record.started or "",
    }
    for key, value in parameters.items():
        values[f"workflow.parameters.{key}"] = value
    return values
