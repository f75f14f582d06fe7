"""Entry points for the CLI and the stack commands: load, validate and run a workflow file.

`prepare(path)` loads a workflow with the WorkflowTemplates beside it and checks it.
`prepare_retry(record)` rebuilds the same from a run record. `run_workflow` runs either
against a cluster and returns the final RunRecord.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.engine.workflow import parse
from deployer.engine.workflow.arguments import make_run_name
from deployer.engine.workflow.executor import ClusterExecutor
from deployer.engine.workflow.nodes import NodeListener
from deployer.engine.workflow.parse_fields import load_yaml_documents
from deployer.engine.workflow.record import ClusterRecordStore, RecordStore
from deployer.engine.workflow.run_options import RunOptions
from deployer.engine.workflow.runner import Runner
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError
from deployer.model.events import ProgressSink, discard
from deployer.model.run import RunRecord
from deployer.model.workflow import Workflow


@dataclass
class Prepared:
    """A checked workflow, the WorkflowTemplates it may call and their documents for the record."""

    workflow: Workflow
    templates: dict[str, Workflow]
    document: dict[str, Any]
    template_documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)


def _plain(value: Any) -> Any:
    """Return a JSON-ready copy of a YAML value (the line-tracking loader's types included)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _documents(path: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for doc in load_yaml_documents(path):
        is_argo = isinstance(doc, Mapping) and doc.get("apiVersion") == parse.API_VERSION
        if is_argo and doc.get("kind") == kind:
            found.append(_plain(doc))
    return found


def prepare(
    path: Path, *, templates_dirs: Sequence[Path] = (), parameters: Mapping[str, str] | None = None
) -> Prepared:
    """Load and validate a workflow file; raise WorkflowError listing every problem."""
    workflow, templates = parse.load_with_templates(path, templates_dirs=templates_dirs)
    validate(workflow, templates=templates, parameters=parameters)
    documents = _documents(path, "Workflow") or _documents(path, "WorkflowTemplate")
    if len(documents) != 1:
        raise WorkflowError(f"{path}: expected one Workflow document")
    template_documents = {}
    for name, template in templates.items():
        for doc in _documents(Path(template.source_file), "WorkflowTemplate"):
            if (doc.get("metadata") or {}).get("name") == name:
                template_documents[name] = doc
    return Prepared(workflow, templates, documents[0], template_documents, path.resolve().parent)


def prepare_retry(record: RunRecord) -> Prepared:
    """Rebuild the workflow and its WorkflowTemplates from the documents in a run record."""
    source = record.source_file or record.name
    workflow = parse.parse_workflow(record.workflow, file=source)
    # NOTE: the record keeps no file name per WorkflowTemplate, so relative paths in a
    # template from a --templates-dir folder resolve against the workflow's folder on retry.
    templates = {
        name: parse.parse_workflow(doc, file=f"{source} (WorkflowTemplate {name})")
        for name, doc in record.templates.items()
    }
    if workflow.workflow_template_ref:
        workflow = parse.merge_workflow_template_ref(workflow, templates)
    base_dir = Path(record.source_file).parent if record.source_file else Path.cwd()
    return Prepared(workflow, templates, record.workflow, record.templates, base_dir)


def retry_parameters(record: RunRecord, store: RecordStore) -> dict[str, str]:
    """Return the record's parameters with masked values restored from the run's Secret."""
    values = dict(record.parameters)
    hidden = store.load_secrets(record.name)
    for name in record.masked:
        if name not in hidden:
            raise WorkflowError(
                f"run {record.name}: the value of secret parameter {name} is gone; "
                "submit the workflow again"
            )
        values[name] = hidden[name]
    return values


def run_workflow(
    cluster: Any,
    prepared: Prepared,
    *,
    namespace: str,
    parameters: Mapping[str, str] | None = None,
    run_name: str | None = None,
    previous: RunRecord | None = None,
    listeners: Sequence[NodeListener] = (),
    progress: ProgressSink = discard,
    runner_ready: Callable[[Runner], None] | None = None,
) -> RunRecord:
    """Run a prepared workflow on `cluster` and return the final record.

    `progress` receives the object events of the run's deployer-kind nodes. `runner_ready`,
    when given, is called with the Runner before it starts, so a caller can stop it (for
    example on Ctrl-C).
    """
    name = previous.name if previous else (run_name or make_run_name(prepared.workflow))
    options = RunOptions(
        namespace=namespace,
        parameters=dict(parameters or {}),
        templates=prepared.templates,
        run_name=name,
        base_dir=prepared.base_dir,
        document=prepared.document,
        template_documents=prepared.template_documents,
        previous=previous,
        listeners=list(listeners),
        progress=progress,
    )
    executor = ClusterExecutor(cluster, run=name)
    runner = Runner(
        prepared.workflow, executor=executor, store=ClusterRecordStore(cluster), options=options
    )
    if runner_ready is not None:
        runner_ready(runner)
    return runner.run()
