"""Leaf templates: container and script pods, resource actions, deployer kinds and suspend.

Output parameters are resolved in this order: `valueFrom.path` (pods, see `pods`),
`valueFrom.jsonPath` (resources), `valueFrom.expression`, `valueFrom.parameter`, the inline
`value`, then `valueFrom.default`. A declared output that none of these yields fails the node.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployer.engine.kinds import TemplateContext
from deployer.engine.timeouts import parse_duration
from deployer.engine.workflow import pods, resource, scope
from deployer.engine.workflow.calls import Call, Outcome
from deployer.engine.workflow.executor import ResourceRequest
from deployer.errors import WorkflowError
from deployer.model.events import ObjectEvent, ProgressSink
from deployer.model.run import NodeRecord
from deployer.model.workflow import Parameter, Template

if TYPE_CHECKING:
    from deployer.engine.workflow.runner import Runner

log = logging.getLogger(__name__)

PathReader = Callable[[str], str | None]


def output_value(
    runner: Runner,
    parameter: Parameter,
    values: Mapping[str, str],
    *,
    read_path: PathReader | None = None,
    read_json_path: PathReader | None = None,
) -> str:
    """Resolve one declared output parameter; raise WorkflowError when nothing yields a value."""
    source = parameter.value_from
    found: str | None = None
    if source is not None and source.path and read_path is not None:
        found = read_path(runner.substitute(source.path, values))
    elif source is not None and source.json_path and read_json_path is not None:
        found = read_json_path(source.json_path)
    elif source is not None and source.expression:
        found = scope.evaluate(source.expression, values)
    elif source is not None and source.parameter:
        found = runner.substitute(source.parameter, values)
    elif parameter.value is not None:
        found = runner.substitute(parameter.value, values)
    if found is None and source is not None and source.default is not None:
        found = source.default
    if found is None:
        raise WorkflowError(f"output parameter {parameter.name} has no value")
    return found


def declared_outputs(
    runner: Runner, template: Template, values: Mapping[str, str], **readers: PathReader | None
) -> dict[str, str]:
    """Resolve every declared output parameter of a template."""
    outputs: dict[str, str] = {}
    for parameter in template.outputs.parameters:
        scoped = {**values, **{f"outputs.parameters.{k}": v for k, v in outputs.items()}}
        outputs[parameter.name] = output_value(runner, parameter, scoped, **readers)
    return outputs


def _metadata(
    runner: Runner, template: Template, values: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    pod_meta = runner.workflow.pod_metadata
    labels = {**pod_meta.labels, **template.metadata.labels}
    annotations = {**pod_meta.annotations, **template.metadata.annotations}
    return (
        {k: runner.substitute(str(v), values) for k, v in labels.items()},
        {k: runner.substitute(str(v), values) for k, v in annotations.items()},
    )


def run_pod(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Run a container or script template as one pod and read its outputs."""
    template = call.template
    name = pods.pod_name(runner.name, template.name, node.name, runner.record.attempt)
    values["pod.name"] = name
    body = runner.substitute_value(dict(template.body), values)
    container = pods.main_container(body, script=template.kind == "script")
    sidecars = [runner.substitute_value(dict(s), values) for s in template.sidecars]
    labels, annotations = _metadata(runner, template, values)
    deadline_seconds = None
    if call.deadline is not None:
        deadline_seconds = max(1, int(call.deadline - time.monotonic()))
    pod = pods.build_pod(
        name=name,
        namespace=runner.record.namespace,
        run=runner.name,
        node_name=node.name,
        container=container,
        sidecars=sidecars,
        labels=labels,
        annotations=annotations,
        service_account=runner.workflow.service_account,
        active_deadline_seconds=deadline_seconds,
    )
    runner.book.update(node, pod_name=name)
    slots = runner.pod_slots
    if slots is not None:
        slots.acquire()
    try:
        result = runner.executor.run_pod(pod, cancel=runner.cancel, deadline=call.deadline)
    finally:
        if slots is not None:
            slots.release()
    outcome = Outcome(
        result.phase, result.message, exit_code=result.exit_code, result=pods.read_result(result)
    )
    values["outputs.result"] = outcome.result or ""
    if result.phase == "Succeeded":
        termination = str(container.get("terminationMessagePath") or pods.DEFAULT_TERMINATION_PATH)

        def read(path: str) -> str | None:
            return pods.read_path(result, path, termination_path=termination)

        outcome.outputs = declared_outputs(runner, template, values, read_path=read)
    return outcome


def run_resource(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Carry out a resource template's action and read outputs by jsonPath from the object."""
    template = call.template
    body = template.body
    where = f"template {template.name}"
    manifest = runner.substitute(str(body.get("manifest") or ""), values)
    request = ResourceRequest(
        action=str(body.get("action") or ""),
        manifests=resource.parse_manifest(manifest, where=where),
        namespace=runner.record.namespace,
        success_condition=_optional(runner, body.get("successCondition"), values),
        failure_condition=_optional(runner, body.get("failureCondition"), values),
        merge_strategy=str(body.get("mergeStrategy") or "strategic"),
    )
    if body.get("setOwnerReference"):
        owner = runner.executor.owner_anchor(runner.name, runner.record.namespace)
        request = ResourceRequest(**{**request.__dict__, "owner": owner})
    result = runner.executor.run_resource(request, cancel=runner.cancel, deadline=call.deadline)
    outcome = Outcome(result.phase, result.message)
    if result.objects:
        first = result.objects[0]
        meta = first.get("metadata") or {}
        outcome.message = outcome.message or f"{first.get('kind')} {meta.get('name', '')}".strip()
    if result.phase == "Succeeded" and result.objects:
        outcome.outputs = declared_outputs(
            runner, template, values, read_json_path=_json_path_reader(runner, result.objects[0])
        )
    return outcome


def _optional(runner: Runner, value: Any, values: Mapping[str, str]) -> str | None:
    return None if value in (None, "") else runner.substitute(str(value), values)


def _json_path_reader(runner: Runner, obj: Mapping[str, Any]) -> PathReader:
    # Imported here because the templates package pulls in the apply engine.
    from deployer.engine.templates import jsonpath

    def read(path: str) -> str | None:
        found = jsonpath.find(obj, path)
        if not found:
            return None
        text = jsonpath.format_values(found)
        if obj.get("kind") == "Secret":
            runner.masker.add(text)
        return text

    return read


def run_kind(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Run a deployer template kind (manifests, helm, jsonnet, fixture) through KINDS."""
    template = call.template
    spec = runner.substitute_value(dict(template.body), values)
    declared = [
        scope.parameter_dict(p, lambda text: runner.substitute(text, values))
        for p in template.outputs.parameters
    ]
    remaining = None if call.deadline is None else max(0.0, call.deadline - time.monotonic())
    inputs = {
        k.removeprefix("inputs.parameters."): v
        for k, v in values.items()
        if k.startswith("inputs.parameters.")
    }
    ctx = TemplateContext(
        cluster=runner.executor.cluster,
        base_dir=Path(call.source.source_file).parent
        if call.source.source_file
        else runner.options.base_dir,
        parameters=inputs,
        workflow_parameters=dict(runner.parameters),
        namespace=runner.record.namespace,
        run_name=runner.name,
        node_name=node.name,
        stop=runner.cancel,
        timeout_seconds=remaining,
        output_parameters=declared,
        workflow_name=runner.workflow.name or runner.workflow.generate_name.rstrip("-"),
        progress=_progress_to(runner, node),
        register_secret=runner.masker.add,
    )
    result = runner.executor.run_kind(template.kind, spec, ctx)
    outcome = Outcome(
        result.phase, result.message, outputs=dict(result.outputs), result=result.result
    )
    if result.phase == "Succeeded":
        for parameter in template.outputs.parameters:
            if parameter.name not in outcome.outputs:
                outcome.outputs[parameter.name] = output_value(runner, parameter, values)
    return outcome


def _progress_to(runner: Runner, node: NodeRecord) -> ProgressSink:
    """Return a sink that shows each object event as the node's message and forwards it.

    Forwarded events go to `RunOptions.progress`, with secret parameter values masked.
    """

    def report(event: ObjectEvent) -> None:
        masked = dataclasses.replace(
            event,
            reason=runner.masker.mask(event.reason),
            message=runner.masker.mask(event.message),
            step=event.step or node.name,
        )
        text = f"{masked.ref} {masked.state.value}"
        if masked.reason:
            text += f" ({masked.reason})"
        runner.book.update(node, message=text)
        try:
            runner.options.progress(masked)
        except Exception:  # a broken view must not fail the deployment it shows
            log.exception("progress sink failed on an event of node %s", node.name)

    return report


def run_suspend(runner: Runner, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
    """Wait for the duration, or until `deployer resume` (or stop) when there is none."""
    template = call.template
    seconds = None
    if template.suspend_duration:
        text = runner.substitute(template.suspend_duration, values)
        seconds = parse_duration(text, what=f"template {template.name} suspend duration")

    resumed = threading.Event()
    with runner.lock:
        runner.suspended[node.id] = resumed
        pending = runner.pending_resume
    if pending is not None and runner.resume(pending):
        with runner.lock:
            runner.pending_resume = None
        runner.store.clear(runner.name, "resume")

    waiting = f"suspended for {seconds:g} s" if seconds is not None else "suspended"
    runner.book.update(node, message=f"{waiting}; resume with `deployer resume {runner.name}`")
    end = None if seconds is None else time.monotonic() + seconds
    if call.deadline is not None:
        end = call.deadline if end is None else min(end, call.deadline)
    try:
        while not resumed.is_set() and not runner.cancel.is_set():
            if end is not None and time.monotonic() >= end:
                break
            resumed.wait(0.2)
    finally:
        with runner.lock:
            runner.suspended.pop(node.id, None)

    if runner.cancel.is_set() and not resumed.is_set():
        return Outcome("Failed", f"{runner.stop_message} while suspended")
    if call.deadline is not None and not resumed.is_set() and time.monotonic() >= call.deadline:
        return Outcome("Failed", "suspend exceeded its deadline")
    message = "resumed" if resumed.is_set() else ""
    return Outcome("Succeeded", message, outputs=declared_outputs(runner, template, values))
