"""Read one entry of `spec.templates`, with its steps or DAG tasks, for the parser."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from deployer.engine.workflow.parse_fields import (
    Reader,
    line_of,
    read_arguments,
    read_metadata,
    read_outputs,
    read_retry_strategy,
    scalar_text,
)
from deployer.model.workflow import (
    TEMPLATE_KINDS,
    ContinueOn,
    Step,
    Task,
    Template,
    TemplateKindName,
    TemplateRef,
    WithSequence,
)

# Argo's rule for template, step and task names: they become parts of node names.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")

_COMMON_KEYS = frozenset(
    {
        "name",
        "inputs",
        "outputs",
        "metadata",
        "retryStrategy",
        "activeDeadlineSeconds",
        "timeout",
        "parallelism",
        "failFast",
        "sidecars",
    }
)
_TEMPLATE_KEYS = _COMMON_KEYS | frozenset(TEMPLATE_KINDS)
_STEP_KEYS = frozenset(
    {
        "name",
        "template",
        "templateRef",
        "arguments",
        "when",
        "withItems",
        "withParam",
        "withSequence",
        "continueOn",
        "onExit",
    }
)
_TASK_KEYS = _STEP_KEYS | frozenset({"dependencies", "depends"})
_RESOURCE_KEYS = frozenset(
    {
        "action",
        "manifest",
        "successCondition",
        "failureCondition",
        "setOwnerReference",
        "mergeStrategy",
    }
)
_RESOURCE_ACTIONS = frozenset({"get", "create", "apply", "patch", "delete"})
# `json` is left out because Argo names the object of a JSON patch in `resource.flags`
# (kubectl arguments such as `[pod, NAME]`), and deployer runs no kubectl and takes no flags.
_MERGE_STRATEGIES = frozenset({"strategic", "merge"})
_SEQUENCE_KEYS = frozenset({"count", "start", "end", "format"})
# The fields of a Kubernetes Container (k8s.io/api core/v1), which a `container` template, a
# `script` template (plus `source`) and each sidecar take. An integration test compares this
# list with the Container schema that the local control plane publishes.
CONTAINER_KEYS = frozenset(
    {
        "name",
        "image",
        "command",
        "args",
        "workingDir",
        "ports",
        "envFrom",
        "env",
        "resources",
        "resizePolicy",
        "restartPolicy",
        "restartPolicyRules",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "securityContext",
        "stdin",
        "stdinOnce",
        "tty",
    }
)
# Template keys that only some kinds use, with the kinds and why.
_KIND_ONLY_KEYS = {
    "parallelism": (frozenset({"steps", "dag"}), "only steps and dag templates have children"),
    "failFast": (frozenset({"steps", "dag"}), "only steps and dag templates have children"),
    "sidecars": (
        frozenset({"container", "script"}),
        "only container and script templates run a pod",
    ),
    "metadata": (
        frozenset({"container", "script"}),
        "only container and script templates run a pod",
    ),
}


def read_template(reader: Reader, raw: Mapping[str, Any], path: str) -> Template | None:
    """Read one template; returns None when it has no usable name or kind."""
    reader.check_keys(raw, path, _TEMPLATE_KEYS)
    name = reader.required_string(raw, "name", f"{path}.name")
    if name and not NAME_PATTERN.match(name):
        reader.problem(raw, "name", f"{path}.name {name!r} must match {NAME_PATTERN.pattern}")
    kinds = [k for k in TEMPLATE_KINDS if k in raw]
    if len(kinds) != 1:
        choices = ", ".join(TEMPLATE_KINDS)
        found = ", ".join(kinds) or "none"
        reader.problem(raw, None, f"{path} ({name}) needs exactly one of {choices}; found {found}")
        return None
    if not name:
        return None

    kind: TemplateKindName = kinds[0]
    for key, (allowed_kinds, reason) in _KIND_ONLY_KEYS.items():
        if key in raw and kind not in allowed_kinds:
            reader.problem(
                raw, key, f"not supported: {path}.{key} in {kind} template {name}; {reason}"
            )
    return Template(
        name=name,
        kind=kind,
        **_read_kind_fields(reader, raw, kind, f"{path}.{kind}", name),
        inputs=read_arguments(reader, raw, f"{path}.inputs"),
        outputs=read_outputs(reader, raw, f"{path}.outputs"),
        retry_strategy=read_retry_strategy(reader, raw, f"{path}.retryStrategy"),
        active_deadline_seconds=reader.int_or_text(
            raw, "activeDeadlineSeconds", f"{path}.activeDeadlineSeconds"
        ),
        timeout=reader.string(raw, "timeout", f"{path}.timeout"),
        parallelism=reader.integer(raw, "parallelism", f"{path}.parallelism"),
        fail_fast=reader.boolean(raw, "failFast", f"{path}.failFast"),
        metadata=read_metadata(reader, raw, "metadata", f"{path}.metadata"),
        sidecars=_read_sidecars(reader, raw, f"{path}.sidecars", name),
        line=line_of(raw),
    )


def _read_kind_fields(
    reader: Reader, raw: Mapping[str, Any], kind: TemplateKindName, path: str, name: str
) -> dict[str, Any]:
    """Read the kind-specific key of a template, as keyword arguments for Template."""
    if kind == "steps":
        return {"steps": _read_steps(reader, raw, path)}
    if kind == "dag":
        tasks, fail_fast = _read_dag(reader, raw, path)
        return {"dag": tasks, "dag_fail_fast": fail_fast}
    if kind == "suspend":
        body = reader.mapping(raw, "suspend", path)
        reader.check_keys(body, path, frozenset({"duration"}))
        duration = reader.string(body, "duration", f"{path}.duration")
        return {"body": body, "suspend_duration": duration}
    return {"body": _read_body(reader, raw, kind, path, name)}


def _read_body(
    reader: Reader, raw: Mapping[str, Any], kind: str, path: str, name: str
) -> Mapping[str, Any]:
    body = raw.get(kind)
    if not isinstance(body, Mapping):
        reader.problem(raw, kind, f"{path} must be a mapping")
        return {}
    if kind == "script" and not isinstance(body.get("source"), str):
        reader.problem(body, None, f"{path}.source is missing: a script template needs source")
    if kind in ("container", "script"):
        if not body.get("image"):
            reader.problem(body, None, f"{path}.image is missing")
        extra = frozenset({"source"}) if kind == "script" else frozenset()
        _check_container_keys(reader, body, path, name, CONTAINER_KEYS | extra)
    if kind == "resource":
        _check_resource(reader, body, path)
    return body


def _check_container_keys(
    reader: Reader, body: Mapping[str, Any], path: str, template: str, allowed: frozenset[str]
) -> None:
    """Report each key of a container body that is no Kubernetes Container field."""
    for key in body:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        reader.problem(
            body,
            key,
            f"not supported: {path}.{key} in template {template}{hint}; a container takes "
            "the fields of a Kubernetes Container",
        )


def _check_resource(reader: Reader, body: Mapping[str, Any], path: str) -> None:
    reader.check_keys(body, path, _RESOURCE_KEYS)
    action = body.get("action")
    if action not in _RESOURCE_ACTIONS:
        allowed = ", ".join(sorted(_RESOURCE_ACTIONS))
        reader.problem(body, "action", f"{path}.action {action!r} is not one of {allowed}")
    if not isinstance(body.get("manifest"), str):
        reader.problem(body, None, f"{path}.manifest is missing: give the object as YAML text")
    if "mergeStrategy" not in body:
        return
    strategy = body.get("mergeStrategy")
    if action != "patch":
        reader.problem(
            body,
            "mergeStrategy",
            f"not supported: {path}.mergeStrategy with action {action}; it applies only to "
            "action patch",
        )
    elif strategy == "json":
        reader.problem(
            body,
            "mergeStrategy",
            f"not supported: {path}.mergeStrategy json; Argo names the object of a JSON patch "
            "in resource.flags, which deployer does not take. Use mergeStrategy merge or "
            "strategic with a manifest that names the object",
        )
    elif strategy not in _MERGE_STRATEGIES:
        reader.problem(
            body,
            "mergeStrategy",
            f"{path}.mergeStrategy {strategy!r} is not one of json, merge, strategic",
        )


def _read_sidecars(
    reader: Reader, raw: Mapping[str, Any], path: str, template: str
) -> list[Mapping[str, Any]]:
    sidecars: list[Mapping[str, Any]] = []
    for index, sidecar in enumerate(reader.sequence(raw, "sidecars", path)):
        if not isinstance(sidecar, Mapping) or not sidecar.get("name"):
            reader.problem(raw, "sidecars", f"{path}[{index}] must be a container with a name")
            continue
        _check_container_keys(reader, sidecar, f"{path}[{index}]", template, CONTAINER_KEYS)
        sidecars.append(sidecar)
    return sidecars


def _read_steps(reader: Reader, raw: Mapping[str, Any], path: str) -> list[list[Step]]:
    groups: list[list[Step]] = []
    names: set[str] = set()
    for group_index, group in enumerate(reader.sequence(raw, "steps", path)):
        group_path = f"{path}[{group_index}]"
        if not isinstance(group, list):
            # NOTE: Argo also rejects a bare step here; each group is a list, even of one.
            reader.problem(raw, "steps", f"{group_path} must be a list of steps (a group)")
            continue
        steps: list[Step] = []
        for index, item in enumerate(group):
            item_path = f"{group_path}[{index}]"
            if not isinstance(item, Mapping):
                reader.problem(raw, "steps", f"{item_path} must be a mapping")
                continue
            reader.check_keys(item, item_path, _STEP_KEYS)
            step = Step(**_read_call(reader, item, item_path))
            _check_unique(reader, item, item_path, step.name, names)
            steps.append(step)
        groups.append(steps)
    return groups


def _read_dag(reader: Reader, raw: Mapping[str, Any], path: str) -> tuple[list[Task], bool]:
    dag = reader.mapping(raw, "dag", path)
    reader.check_keys(dag, path, frozenset({"tasks", "failFast"}))
    fail_fast = reader.boolean(dag, "failFast", f"{path}.failFast")
    tasks: list[Task] = []
    names: set[str] = set()
    for index, item in enumerate(reader.sequence(dag, "tasks", f"{path}.tasks")):
        item_path = f"{path}.tasks[{index}]"
        if not isinstance(item, Mapping):
            reader.problem(dag, "tasks", f"{item_path} must be a mapping")
            continue
        reader.check_keys(item, item_path, _TASK_KEYS)
        dependencies = []
        for dep in reader.sequence(item, "dependencies", f"{item_path}.dependencies"):
            if not isinstance(dep, str):
                reader.problem(item, "dependencies", f"{item_path}.dependencies must be names")
                continue
            dependencies.append(dep)
        depends = reader.string(item, "depends", f"{item_path}.depends")
        if dependencies and depends is not None:
            reader.problem(item, "depends", f"{item_path}: use either dependencies or depends")
        task = Task(
            **_read_call(reader, item, item_path), dependencies=dependencies, depends=depends
        )
        _check_unique(reader, item, item_path, task.name, names)
        tasks.append(task)
    if not tasks:
        reader.problem(raw, "dag", f"{path}.tasks is missing or empty")
    return tasks, True if fail_fast is None else fail_fast


def _check_unique(
    reader: Reader, item: Mapping[str, Any], path: str, name: str, names: set[str]
) -> None:
    if not name:
        return
    if not NAME_PATTERN.match(name):
        reader.problem(item, "name", f"{path}.name {name!r} must match {NAME_PATTERN.pattern}")
    if name in names:
        reader.problem(item, "name", f"{path}.name: duplicate name {name!r} in this template")
    names.add(name)


def _read_call(reader: Reader, item: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Read the fields that steps and tasks share, as keyword arguments for Step/Task."""
    template = reader.string(item, "template", f"{path}.template")
    template_ref = _read_template_ref(reader, item, f"{path}.templateRef")
    if (template is None) == (template_ref is None):
        reader.problem(item, None, f"{path}: set exactly one of template and templateRef")
    loops = [k for k in ("withItems", "withParam", "withSequence") if k in item]
    if len(loops) > 1:
        reader.problem(item, loops[1], f"{path}: use only one of {', '.join(loops)}")
    with_items = None
    if "withItems" in item:
        with_items = reader.sequence(item, "withItems", f"{path}.withItems")
    return {
        "name": reader.required_string(item, "name", f"{path}.name"),
        "template": template,
        "template_ref": template_ref,
        "arguments": read_arguments(reader, item, f"{path}.arguments"),
        "when": reader.string(item, "when", f"{path}.when"),
        "with_items": with_items,
        "with_param": reader.string(item, "withParam", f"{path}.withParam"),
        "with_sequence": _read_sequence(reader, item, f"{path}.withSequence"),
        "continue_on": _read_continue_on(reader, item, f"{path}.continueOn"),
        "on_exit": reader.string(item, "onExit", f"{path}.onExit"),
        "line": line_of(item),
    }


def _read_template_ref(reader: Reader, item: Mapping[str, Any], path: str) -> TemplateRef | None:
    if "templateRef" not in item:
        return None
    raw = reader.mapping(item, "templateRef", path)
    reader.check_keys(raw, path, frozenset({"name", "template"}))
    return TemplateRef(
        name=reader.required_string(raw, "name", f"{path}.name"),
        template=reader.required_string(raw, "template", f"{path}.template"),
    )


def _read_sequence(reader: Reader, item: Mapping[str, Any], path: str) -> WithSequence | None:
    if "withSequence" not in item:
        return None
    raw = reader.mapping(item, "withSequence", path)
    reader.check_keys(raw, path, _SEQUENCE_KEYS)
    values: dict[str, str | None] = {}
    for key in ("count", "start", "end", "format"):
        value = raw.get(key)
        text = scalar_text(value) if value is not None else None
        if value is not None and text is None:
            reader.problem(raw, key, f"{path}.{key} must be a number or text")
        values[key] = text
    if values["count"] is not None and values["end"] is not None:
        reader.problem(raw, "end", f"{path}: use either count or end, not both")
    if values["count"] is None and values["end"] is None:
        reader.problem(raw, None, f"{path}: set count or end")
    return WithSequence(**values)


def _read_continue_on(reader: Reader, item: Mapping[str, Any], path: str) -> ContinueOn | None:
    if "continueOn" not in item:
        return None
    raw = reader.mapping(item, "continueOn", path)
    reader.check_keys(raw, path, frozenset({"failed", "error"}))
    return ContinueOn(
        failed=bool(reader.boolean(raw, "failed", f"{path}.failed")),
        error=bool(reader.boolean(raw, "error", f"{path}.error")),
    )
