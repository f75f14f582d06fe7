"""Static checks of template bodies, run by workflow validation before any step runs.

In a deployer kind (`manifests`, `helm`, `jsonnet`, `fixture`), every key must be a
field of the kind and every value must have the field's type. Required fields must be
set, and local paths (manifest paths, charts, values files, Jsonnet files and library
folders) must exist relative to the workflow file. For `container` and `script`
templates and their sidecars, the common Kubernetes Container fields get a light type
check, so that `command: "true"` fails here rather than as the API server's decoding
error when the pod is created.

A value with a `{{...}}` placeholder is known only at run time, so its text is not
checked: a path with a placeholder need not exist, and a flag or duration with one
need not parse. Its type still is, because substitution keeps a string a string.

Once a body's fields are in order, `render_checks` reads the files it names (manifests,
Jsonnet, values files) and checks release names and output paths.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.engine.templates import fields, render_checks
from deployer.engine.templates.external import PORT_FIELDS, SERVICE_FIELDS, external_objects
from deployer.engine.templates.fields import FieldType
from deployer.engine.timeouts import parse_duration
from deployer.engine.workflow.parse_fields import line_of
from deployer.errors import InputError, WorkflowError
from deployer.model.workflow import Template
from deployer.sources.helm import chart_location
from deployer.sources.loader import expand_paths


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a template body: the line of the offending key and the message."""

    line: int | None
    message: str


def template_problems(
    template: Template,
    *,
    source_file: str,
    workflow_parameters: Mapping[str, str | None] | None = None,
) -> list[SpecProblem]:
    """Check one template's kind-specific body, sidecars and outputs; return every problem.

    Relative paths resolve against the folder of `source_file`, as at run time. They
    are checked only when `source_file` is a file on disk: a workflow built from text
    has no folder to resolve them against. `workflow_parameters` are the run's workflow
    parameters (see `render_checks.workflow_values`), which manifests and Jsonnet files
    are rendered with.
    """
    workflow_file = Path(source_file) if source_file else None
    base_dir = workflow_file.parent if workflow_file and workflow_file.is_file() else None
    values = render_checks.RunValues(
        workflow=dict(workflow_parameters or {}),
        inputs=frozenset(parameter.name for parameter in template.inputs),
    )
    checker = _BodyChecker(default_line=template.line, base_dir=base_dir, values=values)
    if template.kind in fields.KIND_FIELDS:
        checker.deployer_kind(template.kind, template.body)
    elif template.kind in ("container", "script"):
        checker.container(template.body, template.kind)
    for index, sidecar in enumerate(template.sidecars):
        checker.container(sidecar, f"sidecars[{index}]")
    for message in render_checks.output_problems(template):
        checker.problems.append(SpecProblem(template.line, message))
    return checker.problems


def _has_placeholder(value: Any) -> bool:
    """Whether a string anywhere in `value` contains a `{{...}}` placeholder."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, Mapping):
        return any(_has_placeholder(k) or _has_placeholder(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_placeholder(item) for item in value)
    return False


def _shown(value: Any) -> str:
    """Describe a wrong value in a message: its YAML type and the value itself."""
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    kind = "mapping" if isinstance(value, Mapping) else names.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


class _BodyChecker:
    """Collects the problems of one template body, each at the line of its key."""

    def __init__(
        self,
        *,
        default_line: int | None,
        base_dir: Path | None,
        values: render_checks.RunValues | None = None,
    ) -> None:
        self.default_line = default_line
        self.base_dir = base_dir
        self.values = values or render_checks.RunValues()
        self.problems: list[SpecProblem] = []

    def report(self, node: object, key: str | None, message: str) -> None:
        line = line_of(node, key)
        self.problems.append(SpecProblem(line or self.default_line, message))

    def unknown_keys(
        self, node: Mapping[str, Any], path: str, allowed: Iterable[str], what: str
    ) -> set[str]:
        """Report each key outside `allowed` as `not supported: PATH.KEY`, with a hint.

        Returns the field names suggested as "did you mean", so the caller need not also
        report them as missing.
        """
        known = sorted(allowed)
        suggested: set[str] = set()
        for key in node:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; {what} takes {', '.join(known)}"
            suggested.update(close)
            self.report(node, key, f"not supported: {path}.{key}{hint}")
        return suggested

    # The deployer kinds.

    def deployer_kind(self, kind: str, body: Mapping[str, Any]) -> None:
        types = fields.KIND_FIELDS[kind]
        before = len(self.problems)
        suggested = self.unknown_keys(body, kind, types, f"a {kind} template")
        for key in fields.REQUIRED[kind]:
            if key not in suggested and body.get(key) in (None, "", []):
                self.report(body, None, f"{kind}.{key} is missing: a {kind} template needs it")
        for key, field_type in types.items():
            if key in body and body[key] is not None:
                self.typed_value(body, key, f"{kind}.{key}", field_type)
        if len(self.problems) > before:
            # Paths and nested rules make sense only once the fields have their types.
            return
        extra: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "manifests": self.manifest_paths,
            "helm": self.helm_files,
            "jsonnet": self.jsonnet_files,
            "fixture": self.fixture,
        }
        extra[kind](body)

    def typed_value(self, node: Mapping[str, Any], key: str, path: str, kind: FieldType) -> None:
        """Report a value that the kind's reader would reject at run time."""
        value = node[key]
        wrong = False
        if kind in (FieldType.STRING, FieldType.DURATION):
            wrong = isinstance(value, bool | Mapping | list)
        elif kind == FieldType.STRINGS:
            items = value if isinstance(value, list) else [value]
            wrong = not all(isinstance(item, str) for item in items)
        elif kind == FieldType.MAPPING:
            wrong = not isinstance(value, Mapping)
        elif kind == FieldType.FLAG:
            wrong = not isinstance(value, bool) and not (
                isinstance(value, str)
                and ("{{" in value or value.strip().lower() in ("true", "false"))
            )
        if wrong:
            self.report(node, key, f"{path} must be {kind.value}, got {_shown(value)}")
            return
        if kind == FieldType.DURATION and not _has_placeholder(value):
            try:
                parse_duration(str(value), what=path)
            except InputError as invalid:
                self.report(node, key, str(invalid))

    def local_path(self, name: str) -> Path | None:
        """Return the path that `name` stands for, or None when it cannot be checked."""
        if self.base_dir is None or "{{" in name:
            return None
        given = Path(name)
        return given if given.is_absolute() else self.base_dir / given

    def manifest_paths(self, body: Mapping[str, Any]) -> None:
        value = body["paths"]
        names = value if isinstance(value, list) else [value]
        for name in names:
            if self.local_path(name) is None:
                continue
            try:
                expand_paths([name], base_dir=self.base_dir)
            except InputError as missing:
                self.report(body, "paths", f"manifests.paths: {missing}")
        if self.base_dir is None:
            return
        parameters = body.get("parameters") or {}
        problems = render_checks.manifest_problems(
            names, parameters, base_dir=self.base_dir, values=self.values
        )
        for problem in problems:
            self.report(body, "paths", f"manifests.paths: {problem}")

    def helm_files(self, body: Mapping[str, Any]) -> None:
        chart = str(body["chart"])
        repo = body.get("repo")
        if self.base_dir is not None and not _has_placeholder([chart, repo]):
            try:
                chart_location(chart, base_dir=self.base_dir, repo=str(repo) if repo else None)
            except InputError as missing:
                self.report(body, "chart", f"helm.chart: {missing}")
        files = body.get("valuesFiles") or []
        files = files if isinstance(files, list) else [files]
        for name in files:
            full = self.local_path(name)
            if full is not None and not full.is_file():
                self.report(body, "valuesFiles", f"helm.valuesFiles: file not found: {full}")
        if self.base_dir is not None:
            for problem in render_checks.values_file_problems(files, base_dir=self.base_dir):
                self.report(body, "valuesFiles", f"helm.valuesFiles: {problem}")
        release = body.get("release")
        if release is not None and not _has_placeholder(release):
            problem = render_checks.release_name_problem(str(release))
            if problem:
                self.report(body, "release", f"helm.release: {problem}")

    def jsonnet_files(self, body: Mapping[str, Any]) -> None:
        main = self.local_path(str(body["main"]))
        if main is not None and not main.is_file():
            self.report(body, "main", f"jsonnet.main: file not found: {main}")
        folders = body.get("libPaths") or []
        before = len(self.problems)
        for name in folders if isinstance(folders, list) else [folders]:
            full = self.local_path(name)
            if full is not None and not full.is_dir():
                self.report(body, "libPaths", f"jsonnet.libPaths: folder not found: {full}")
        if self.base_dir is None or main is None or not main.is_file():
            return
        if len(self.problems) > before:
            return
        problem = render_checks.jsonnet_problem(body, base_dir=self.base_dir, values=self.values)
        if problem:
            self.report(body, "main", f"jsonnet.main: {problem}")

    def fixture(self, body: Mapping[str, Any]) -> None:
        resources = body.get("resources")
        if resources is not None:
            self.fixture_resources(body, resources)
        external = body.get("external")
        if external is not None:
            self.fixture_external(body, external)

    def fixture_resources(self, body: Mapping[str, Any], resources: Any) -> None:
        if not isinstance(resources, list) or not all(isinstance(r, Mapping) for r in resources):
            self.report(
                body,
                "resources",
                "fixture.resources must be a list of {apiVersion, kind, name, namespace} "
                f"mappings, got {_shown(resources)}",
            )
            return
        for index, entry in enumerate(resources):
            path = f"fixture.resources[{index}]"
            suggested = self.unknown_keys(
                entry, path, fields.FIXTURE_RESOURCE, "a fixture resource"
            )
            for key in fields.FIXTURE_RESOURCE_REQUIRED:
                if key not in suggested and entry.get(key) in (None, ""):
                    self.report(entry, None, f"{path}.{key} is missing")
            for key, field_type in fields.FIXTURE_RESOURCE.items():
                if entry.get(key) is not None:
                    self.typed_value(entry, key, f"{path}.{key}", field_type)

    def fixture_external(self, body: Mapping[str, Any], external: Any) -> None:
        before = len(self.problems)
        entries = external if isinstance(external, list) else [external]
        for index, entry in enumerate(entries):
            path = "fixture.external" + (f"[{index}]" if isinstance(external, list) else "")
            if not isinstance(entry, Mapping):
                continue  # external_objects below names the expected form
            self.unknown_keys(entry, path, ("service",), "an external entry")
            service = entry.get("service")
            if not isinstance(service, Mapping):
                continue
            self.unknown_keys(service, f"{path}.service", SERVICE_FIELDS, "a service")
            ports = service.get("ports")
            for number, port in enumerate(ports if isinstance(ports, list) else []):
                if isinstance(port, Mapping):
                    where = f"{path}.service.ports[{number}]"
                    self.unknown_keys(port, where, PORT_FIELDS, "a port")
        if len(self.problems) > before or _has_placeholder(external):
            return
        try:
            external_objects(external, default_namespace="default")
        except WorkflowError as invalid:
            self.report(body, "external", str(invalid))

    # Container fields.

    def container(self, body: Mapping[str, Any], path: str) -> None:
        """Check the types of the common Container fields; unknown keys are the parser's."""
        for key, check in _CONTAINER_TYPES.items():
            if key in body and body[key] is not None:
                check(self, body, key, f"{path}.{key}")

    def text(self, node: Mapping[str, Any], key: str, path: str) -> None:
        value = node[key]
        if not isinstance(value, str):
            self.report(node, key, f"{path} must be a string, got {_shown(value)}; quote it")

    def texts(self, node: Mapping[str, Any], key: str, path: str) -> None:
        value = node[key]
        if not isinstance(value, list):
            example = "[sh, -c, ...]"
            if isinstance(value, str):
                # A text with spaces is a shell command line; one word is a program name.
                example = f'[sh, -c, "{value}"]' if " " in value else f'["{value}"]'
            self.report(
                node,
                key,
                f"{path} must be a list of strings, got {_shown(value)}; write {key}: {example}",
            )
            return
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.report(
                    node, key, f"{path}[{index}] must be a string, got {_shown(item)}; quote it"
                )

    def boolean(self, node: Mapping[str, Any], key: str, path: str) -> None:
        value = node[key]
        if not isinstance(value, bool):
            self.report(node, key, f"{path} must be true or false, got {_shown(value)}")

    def mapping(self, node: Mapping[str, Any], key: str, path: str) -> None:
        value = node[key]
        if not isinstance(value, Mapping):
            self.report(node, key, f"{path} must be a mapping, got {_shown(value)}")

    def mappings(self, node: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
        value = node[key]
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            self.report(node, key, f"{path} must be a list of mappings, got {_shown(value)}")
            return []
        return value

    def env(self, node: Mapping[str, Any], key: str, path: str) -> None:
        for index, item in enumerate(self.mappings(node, key, path)):
            for field_name in ("name", "value"):
                if item.get(field_name) is not None:
                    self.text(item, field_name, f"{path}[{index}].{field_name}")
            if "valueFrom" in item:
                self.mapping(item, "valueFrom", f"{path}[{index}].valueFrom")

    def ports(self, node: Mapping[str, Any], key: str, path: str) -> None:
        for index, item in enumerate(self.mappings(node, key, path)):
            port = item.get("containerPort")
            if not isinstance(port, int) or isinstance(port, bool):
                self.report(
                    item,
                    "containerPort",
                    f"{path}[{index}].containerPort must be a number, got {_shown(port)}",
                )
            for field_name in ("name", "protocol"):
                if item.get(field_name) is not None:
                    self.text(item, field_name, f"{path}[{index}].{field_name}")

    def volume_mounts(self, node: Mapping[str, Any], key: str, path: str) -> None:
        for index, item in enumerate(self.mappings(node, key, path)):
            for field_name in ("name", "mountPath", "subPath"):
                if item.get(field_name) is not None:
                    self.text(item, field_name, f"{path}[{index}].{field_name}")


def _list_of_mappings(checker: _BodyChecker, node: Mapping[str, Any], key: str, path: str) -> None:
    checker.mappings(node, key, path)


_Check = Callable[[_BodyChecker, Mapping[str, Any], str, str], None]
# The Container fields checked, with their Kubernetes types (k8s.io/api core/v1).
_CONTAINER_TYPES: dict[str, _Check] = {
    "name": _BodyChecker.text,
    "image": _BodyChecker.text,
    "command": _BodyChecker.texts,
    "args": _BodyChecker.texts,
    "workingDir": _BodyChecker.text,
    "env": _BodyChecker.env,
    "envFrom": _list_of_mappings,
    "ports": _BodyChecker.ports,
    "volumeMounts": _BodyChecker.volume_mounts,
    "volumeDevices": _list_of_mappings,
    "resizePolicy": _list_of_mappings,
    "restartPolicyRules": _list_of_mappings,
    "resources": _BodyChecker.mapping,
    "livenessProbe": _BodyChecker.mapping,
    "readinessProbe": _BodyChecker.mapping,
    "startupProbe": _BodyChecker.mapping,
    "lifecycle": _BodyChecker.mapping,
    "securityContext": _BodyChecker.mapping,
    "imagePullPolicy": _BodyChecker.text,
    "restartPolicy": _BodyChecker.text,
    "terminationMessagePath": _BodyChecker.text,
    "terminationMessagePolicy": _BodyChecker.text,
    "stdin": _BodyChecker.boolean,
    "stdinOnce": _BodyChecker.boolean,
    "tty": _BodyChecker.boolean,
}
