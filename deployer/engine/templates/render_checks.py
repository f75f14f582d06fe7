"""Pre-run checks that read the files a deployer template names, and its output paths.

Workflow validation runs these after the field checks in `spec_checks`, so that bad input
fails the workflow before its first step applies anything:

- every file of a `manifests` template is rendered with Jinja2 and parsed;
- a `jsonnet` main file is evaluated, and its output must be Kubernetes objects;
- `helm` values files must be YAML mappings, and a release name must be one helm takes;
- every output `jsonPath` must parse, and every output `object` too.

A value known only at run time, such as a step's output or a template input, is replaced
by the text `0`. When a file uses such a value, only the problems that no value can fix
are reported: an undefined Jinja2 name or a Jinja2 or Jsonnet syntax error. Workflow
parameters count as known, with the values given to `submit` or `up`, else their defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.engine.templates import jsonpath
from deployer.engine.templates.outputs import parse_selector
from deployer.errors import InputError, RenderError, WorkflowError
from deployer.model.workflow import DEPLOYER_KINDS, Parameter, Template
from deployer.sources import jinja
from deployer.sources.helm import load_values_files
from deployer.sources.jsonnet import evaluate_jsonnet, objects_from_value
from deployer.sources.loader import expand_paths, load_text, read_text

STAND_IN = "0"
_WORKFLOW_PARAMETER = re.compile(r"\{\{\s*workflow\.parameters\.([^\s{}]+)\s*\}\}")
# Helm's rule for release names (helm v4.3.2, pkg/chart/v2/util/validate_name.go).
RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_RELEASE_NAME = 53
# The texts of the problems that no run-time value can fix.
_JINJA_ALWAYS = ('undefined parameter "', "invalid Jinja2 template")
_JSONNET_ALWAYS = "Jsonnet syntax error"


@dataclass(frozen=True)
class RunValues:
    """The values a template receives at run time, as far as validation knows them."""

    # Workflow parameters by name; None for a value known only at run time.
    workflow: Mapping[str, str | None] = field(default_factory=dict)
    # The template's input parameters, whose values come from its callers.
    inputs: frozenset[str] = frozenset()


def workflow_values(
    arguments: Sequence[Parameter], supplied: Mapping[str, str]
) -> dict[str, str | None]:
    """Return each workflow parameter's value as a run gets it: given, else value or default."""
    values: dict[str, str | None] = {}
    for argument in arguments:
        value = supplied.get(argument.name)
        if value is None:
            value = argument.value if argument.value is not None else argument.default
        values[argument.name] = None if value is None or "{{" in value else value
    return values


def resolve(value: Any, workflow: Mapping[str, str | None]) -> tuple[bool, Any]:
    """Substitute known workflow parameters in `value`.

    Returns (True, the result), or (False, None) when a placeholder is left that only the
    run can fill.
    """
    if isinstance(value, str):
        unknown = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unknown
            found = workflow.get(match[1])
            if found is None:
                unknown = True
                return match[0]
            return found

        text = _WORKFLOW_PARAMETER.sub(replace, value)
        return (False, None) if unknown or "{{" in text else (True, text)
    if isinstance(value, Mapping):
        items = {key: resolve(item, workflow) for key, item in value.items()}
        if all(known for known, _ in items.values()):
            return True, {key: item for key, (_, item) in items.items()}
        return False, None
    if isinstance(value, list):
        resolved = [resolve(item, workflow) for item in value]
        if all(known for known, _ in resolved):
            return True, [item for _, item in resolved]
        return False, None
    return True, value


def manifest_problems(
    paths: Iterable[str], parameters: Mapping[str, Any], *, base_dir: Path, values: RunValues
) -> list[str]:
    """Render and parse every manifest file of a `manifests` template; return the problems.

    `parameters` is the template's `parameters` field. Paths with a placeholder, and paths
    that do not exist (reported by the path check), are skipped.
    """
    merged: dict[str, Any] = {}
    unknown: set[str] = set()
    for name, value in values.workflow.items():
        merged[name] = STAND_IN if value is None else value
        if value is None:
            unknown.add(name)
    for name in values.inputs:
        merged[name] = STAND_IN
        unknown.add(name)
    for key, raw in parameters.items():
        known, value = resolve(raw, values.workflow)
        merged[str(key)] = value if known else STAND_IN
        if known:
            unknown.discard(str(key))
        else:
            unknown.add(str(key))

    problems: list[str] = []
    for name in paths:
        if "{{" in name:
            continue
        try:
            files = expand_paths([name], base_dir=base_dir)
        except InputError:
            continue
        for file in files:
            problem = _manifest_file_problem(file, merged, unknown)
            if problem:
                problems.append(problem)
    return problems


def _manifest_file_problem(file: Path, parameters: Mapping[str, Any], unknown: set[str]) -> str:
    try:
        text = read_text(file)
    except InputError as unreadable:
        return str(unreadable)
    # NOTE: a name set with `{% set %}` only in a branch that a replaced value skips is
    # reported as undefined, although the run may define it.
    uses_unknown = jinja.needs_rendering(text) and bool(_names_used(text) & unknown)
    try:
        load_text(text, file=str(file), parameters=parameters, json=file.suffix == ".json")
    except RenderError as failed:
        if uses_unknown and not any(always in str(failed) for always in _JINJA_ALWAYS):
            return ""
        return str(failed)
    except InputError as invalid:
        # The YAML may be invalid only because of a stand-in value.
        return "" if uses_unknown else str(invalid)
    return ""


def _names_used(text: str) -> set[str]:
    """Return the names a Jinja2 template reads from its parameters; none when it does not parse."""
    import jinja2
    from jinja2 import meta

    environment = jinja.make_environment()
    try:
        return set(meta.find_undeclared_variables(environment.parse(text)))
    except jinja2.TemplateSyntaxError:
        return set()


def jsonnet_problem(body: Mapping[str, Any], *, base_dir: Path, values: RunValues) -> str:
    """Evaluate a `jsonnet` template's main file; return its problem, or "" when it is fine.

    The jsonnet Python package (0.22) offers only evaluate_file and evaluate_snippet, no
    parse-only call, so the check evaluates. Variables known only at run time are replaced
    by `0` (text) or `null` (code). Then only a syntax error counts, because the output
    may depend on the missing values.
    """
    # NOTE: Jsonnet parses an imported file only when evaluation reaches it, so with
    # replaced values a syntax error in an import after a runtime error is not found.
    main = str(body["main"])
    lib_paths = body.get("libPaths") or []
    lib_paths = lib_paths if isinstance(lib_paths, list) else [lib_paths]
    if "{{" in main or any("{{" in str(path) for path in lib_paths):
        return ""
    partial = False
    resolved: dict[str, dict[str, Any]] = {}
    for key, stand_in in (("extVars", STAND_IN), ("extCode", "null"), ("tlas", STAND_IN)):
        resolved[key] = {}
        for name, raw in (body.get(key) or {}).items():
            known, value = resolve(raw, values.workflow)
            partial = partial or not known
            resolved[key][str(name)] = value if known else stand_in
    tla_code: dict[str, str] = {}
    for name, raw in (body.get("tlaCode") or {}).items():
        known, value = resolve(raw, values.workflow)
        partial = partial or not known
        tla_code[str(name)] = str(value) if known else "null"
    file = str((base_dir / main).resolve())
    try:
        output = evaluate_jsonnet(
            main,
            base_dir=base_dir,
            lib_paths=[str(path) for path in lib_paths],
            ext_vars=resolved["extVars"],
            ext_code={name: str(code) for name, code in resolved["extCode"].items()},
            tlas=resolved["tlas"],
            tla_code=tla_code,
        )
        objects_from_value(output, file)
    except RenderError as failed:
        if partial and _JSONNET_ALWAYS not in str(failed):
            return ""
        return str(failed)
    return ""


def values_file_problems(files: Iterable[str], *, base_dir: Path) -> list[str]:
    """Parse each existing `valuesFiles` entry without a placeholder; return the problems."""
    problems = []
    for name in files:
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        if "{{" in name or not path.is_file():
            continue
        try:
            load_values_files([name], base_dir=base_dir)
        except InputError as invalid:
            problems.append(str(invalid))
    return problems


def release_name_problem(name: str) -> str:
    """Return why helm rejects `name` as a release name, or "" when it takes it."""
    if len(name) > MAX_RELEASE_NAME:
        return (
            f"release name {name!r} is {len(name)} characters long; helm allows at most "
            f"{MAX_RELEASE_NAME}"
        )
    if not RELEASE_NAME.fullmatch(name):
        return (
            f"release name {name!r} is invalid: helm takes lowercase letters, digits, '-' "
            "and '.', starting and ending with a letter or digit"
        )
    return ""


def output_problems(template: Template) -> list[str]:
    """Parse each output `jsonPath`, and `object` of the deployer kinds, without a placeholder."""
    problems = []
    for parameter in template.outputs.parameters:
        source = parameter.value_from
        if source is None:
            continue
        where = f"output parameter {parameter.name}"
        if source.json_path and "{{" not in source.json_path:
            try:
                jsonpath.check(source.json_path)
            except InputError as invalid:
                problems.append(f"{where}: {invalid}")
        if source.object and template.kind in DEPLOYER_KINDS and "{{" not in source.object:
            try:
                parse_selector(source.object)
            except WorkflowError as invalid:
                problems.append(f"{where}: {invalid}")
    return problems
