"""Stacks: environment definitions that run a list of workflows in order.

A stack file (`apiVersion: deployer.dev/v1alpha1`, `kind: Stack`; see docs/stacks.md)
names workflow files, the parameters and Helm values each one gets and optionally a
kubeconfig context. This module loads and checks stack files and the workflows they name.
`deployer.engine.stack_parameters` resolves each workflow's parameters, and
`deployer.engine.stack_values` adds the stack's Helm values to a workflow's helm
templates. None of them does cluster I/O: `deployer.engine.stack_run` carries a loaded
stack out on a cluster.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from deployer.engine.workflow.parse import load_with_templates
from deployer.errors import DeployerError, InputError, WorkflowError
from deployer.model.workflow import Template, Workflow
from deployer.sources.documents import iter_documents, node_line, sequence_items

API_VERSION = "deployer.dev/v1alpha1"
KIND = "Stack"
STACK_SUFFIXES = (".yaml", ".yml")

_TOP_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_SPEC_KEYS = frozenset({"description", "context", "parameters", "workflows"})
_ENTRY_KEYS = frozenset({"name", "file", "parameters", "values"})


@dataclass(frozen=True)
class StackWorkflow:
    """One workflow of a stack: its file and the parameters and Helm values it gets."""

    file: Path  # absolute path of the workflow file
    parameters: Mapping[str, str]  # the entry's own parameters, as written
    line: int = 0  # line of the entry in the stack file
    name: str = ""  # the entry's `name`, else the file name without its suffix
    # Helm values by helm template name, layered over that template's own values.
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Lines of the entry's keys, as "parameters.NAME" and "values.TEMPLATE".
    key_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name the entry in messages and in `-p ENTRY.NAME=VALUE`."""
        return self.name or self.file.stem


@dataclass(frozen=True)
class Stack:
    """A loaded stack file."""

    name: str
    file: Path
    description: str = ""
    context: str | None = None  # kubeconfig context; None means the current context
    parameters: Mapping[str, str] = field(default_factory=dict)
    workflows: tuple[StackWorkflow, ...] = ()


def find_stack(name_or_path: str, *, stacks_dirs: Sequence[Path]) -> Path:
    """Return the stack file for a path, or for a name looked up as `<dir>/<name>.yaml`.

    Raises InputError listing every place searched when nothing matches.
    """
    given = Path(name_or_path)
    if given.is_file():
        return given.resolve()
    searched = [str(given.absolute())]
    for folder in stacks_dirs:
        for suffix in STACK_SUFFIXES:
            candidate = folder / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate.resolve()
            searched.append(str(candidate.absolute()))
    missing = [str(folder.absolute()) for folder in stacks_dirs if not folder.is_dir()]
    note = f" (no such folder: {', '.join(missing)})" if missing else ""
    raise InputError(
        f"stack {name_or_path!r} not found: searched {', '.join(searched)}{note}. "
        "Run from the folder that contains stacks/ (the deployer checkout), pass "
        "--stacks-dir with the folder of stack files, or give the stack file's path."
    )


def load_stack(path: Path) -> Stack:
    """Read and check a stack file; workflow paths resolve against the file's folder.

    Raises one error that lists every problem of the file, each at the line of the
    offending key or list item (see `read_stack`).
    """
    stack, problems = read_stack(path)
    if problems:
        raise combine_problems(problems, file=str(path))
    return stack


def read_stack(path: Path) -> tuple[Stack, list[DeployerError]]:
    """Read a stack file and return it with every problem found in it, each with its line.

    The returned stack leaves out what is invalid: a workflow entry with a problem, and
    a parameter whose value is not a string. Raises InputError at once only when the
    file cannot be read as one YAML mapping.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read stack file: {error.strerror}", file=file) from error
    documents = [doc for doc in iter_documents(text, file=file) if doc.data is not None]
    if len(documents) != 1:
        raise InputError(
            f"a stack file must contain exactly one document, found {len(documents)}", file=file
        )
    data = documents[0].data
    lines = _Lines(file, documents[0].node, documents[0].line)
    if not isinstance(data, Mapping):
        raise InputError("a stack document must be a mapping", file=file, line=lines.of())
    _check_header(data, lines)

    spec = _mapping(data.get("spec"), "spec", lines, ("spec",))
    _check_keys(spec, _SPEC_KEYS, "spec", lines, ("spec",))
    metadata = _mapping(data.get("metadata"), "metadata", lines, ("metadata",))
    name = str(metadata.get("name") or path.stem)

    entries = spec.get("workflows")
    workflows: list[StackWorkflow] = []
    if not isinstance(entries, list) or not entries:
        lines.report("spec.workflows must be a non-empty list", "spec", "workflows")
        entries = []
    for index, entry in enumerate(entries):
        found = _read_entry(entry, index, base_dir=path.parent, lines=lines)
        if found is not None:
            workflows.append(found)
    _check_entry_names(workflows, lines)

    context = spec.get("context")
    stack = Stack(
        name=name,
        file=path,
        description=str(spec.get("description") or ""),
        context=str(context) if context else None,
        parameters=_string_map(
            spec.get("parameters"), "spec.parameters", lines, ("spec", "parameters")
        ),
        workflows=tuple(workflows),
    )
    return stack, sorted(lines.problems, key=lambda problem: getattr(problem, "line", 0) or 0)


def combine_problems(
    problems: Sequence[DeployerError], *, file: str, summary: str = "problems"
) -> DeployerError:
    """Return one error that lists every problem; a single problem is returned as it is.

    A WorkflowError that lists several problems of one workflow gives each of them a line
    of its own, so every line of the result names one file and line. `summary` follows
    the count in the first line, for example "problems; nothing was run".
    """
    if len(problems) == 1:
        return problems[0]
    # A workflow that fails to parse is reported by each check that loads it; keep one.
    items = list(dict.fromkeys(item for problem in problems for item in _problem_items(problem)))
    if len(items) == 1:
        return problems[0]
    listed = "\n".join(f"  {item}" for item in items)
    return InputError(f"{len(items)} {summary}:\n{listed}", file=file)


def _problem_items(problem: DeployerError) -> list[str]:
    """Split an error that lists problems under a heading line into those problems."""
    heading, *rest = str(problem).splitlines()
    if rest and heading.endswith(":") and all(line.startswith("  ") for line in rest):
        return [line.strip() for line in rest]
    return [str(problem)]


def entrypoint_dag(workflow: Workflow) -> Template:
    """Return a stack workflow's entrypoint template, which must be a dag template.

    `down` and `status` find each task's objects through the tasks of that DAG. Raises
    WorkflowError naming the file, the line and the fix for an entrypoint of any other
    kind.
    """
    name = workflow.entrypoint or ""
    template = workflow.templates.get(name)
    if template is None:
        raise WorkflowError(
            f"{workflow.source_file}:{workflow.line}: entrypoint template {name!r} not found; "
            "set spec.entrypoint to the workflow's dag template"
        )
    if template.kind != "dag":
        raise WorkflowError(
            f"{workflow.source_file}:{template.line}: entrypoint {name} is a {template.kind} "
            "template, but a stack workflow's entrypoint must be a dag template, because "
            "`deployer down` and `status` find each task's objects through its tasks. Make "
            "the entrypoint a dag whose tasks call the other templates, or run this workflow "
            "with `deployer submit` instead of in a stack."
        )
    return template


def check_entrypoints(stack: Stack) -> None:
    """Raise one error listing each workflow that fails to load or has no dag entrypoint."""
    problems: list[DeployerError] = []
    for entry in stack.workflows:
        try:
            workflow, _ = load_with_templates(entry.file)
            entrypoint_dag(workflow)
        except (InputError, WorkflowError) as problem:
            problems.append(problem)
    if problems:
        raise combine_problems(problems, file=str(stack.file))


class _Lines:
    """The lines of the keys and list items of one stack document, and the problems found."""

    def __init__(self, file: str, root: Node | None, document_line: int) -> None:
        self.file = file
        self.root = root
        self.document_line = document_line
        self.problems: list[DeployerError] = []

    def of(self, *path: str | int) -> int:
        """Return the line of the key or list item at `path`, else of its nearest parent.

        `path` is a chain of mapping keys and list indexes, such as
        ("spec", "workflows", 0, "file").
        """
        line = self.document_line
        node = self.root
        for step in path:
            if isinstance(step, int):
                items = sequence_items(node)
                if step >= len(items):
                    return line
                node = items[step]
                line = node_line(node)
                continue
            found = _key_and_value(node, step)
            if found is None:
                return line
            key_node, node = found
            line = node_line(key_node)
        return line

    def value_node(self, *path: str | int) -> Node | None:
        """Return the YAML node of the value at `path`, or None when there is none."""
        node = self.root
        for step in path:
            if isinstance(step, int):
                items = sequence_items(node)
                node = items[step] if step < len(items) else None
                continue
            found = _key_and_value(node, step)
            node = found[1] if found is not None else None
        return node

    def report(self, message: str, *path: str | int) -> None:
        """Record a problem at the line of `path` (see `of`)."""
        self.problems.append(InputError(message, file=self.file, line=self.of(*path)))


def _key_and_value(node: Node | None, key: str) -> tuple[Node, Node] | None:
    """Return the key and value nodes of the string key `key` of a mapping node, if any."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _check_header(data: Mapping[str, Any], lines: _Lines) -> None:
    """Raise InputError for a document that is no stack; report unknown top-level keys."""
    for key, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        if data.get(key) != expected:
            raise InputError(
                f"not a stack: expected apiVersion {API_VERSION} and kind {KIND}, "
                f"got {data.get('apiVersion')!r} and {data.get('kind')!r}",
                file=lines.file,
                line=lines.of(key),
            )
    _check_keys(data, _TOP_KEYS, "", lines, ())


def _read_entry(entry: Any, index: int, *, base_dir: Path, lines: _Lines) -> StackWorkflow | None:
    """Read one item of spec.workflows; return None when a problem makes it unusable."""
    where = f"spec.workflows[{index}]"
    at = ("spec", "workflows", index)
    if not isinstance(entry, Mapping):
        lines.report(f"{where} must be a mapping", *at)
        return None
    known = len(lines.problems)
    _check_keys(entry, _ENTRY_KEYS, where, lines, at)
    workflow_file = entry.get("file")
    resolved = None
    if not isinstance(workflow_file, str) or not workflow_file:
        lines.report(f"{where}.file is missing or not a string", *at, "file")
    else:
        resolved = (base_dir / workflow_file).resolve()
        if not resolved.is_file():
            lines.report(f"{where}.file: workflow file not found: {resolved}", *at, "file")
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name or "." in name):
        lines.report(
            f"{where}.name must be a non-empty string without dots, got {name!r}", *at, "name"
        )
    parameters = _string_map(
        entry.get("parameters"), f"{where}.parameters", lines, (*at, "parameters")
    )
    values = _values_map(entry.get("values"), f"{where}.values", lines, (*at, "values"))
    if resolved is None or len(lines.problems) > known:
        return None
    return StackWorkflow(
        file=resolved,
        parameters=parameters,
        line=lines.of(*at),
        name=name or "",
        values=values,
        key_lines={
            f"{section}.{key}": lines.of(*at, section, key)
            for section, mapping in (("parameters", parameters), ("values", values))
            for key in mapping
        },
    )


def _check_entry_names(entries: Sequence[StackWorkflow], lines: _Lines) -> None:
    seen: dict[str, StackWorkflow] = {}
    for entry in entries:
        first = seen.setdefault(entry.label, entry)
        if first is not entry:
            lines.problems.append(
                InputError(
                    f"two workflow entries are called {entry.label} (lines {first.line} and "
                    f"{entry.line}); give one of them its own `name:`",
                    file=lines.file,
                    line=entry.line or None,
                )
            )


def _values_map(
    value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]
) -> dict[str, dict[str, Any]]:
    """Read `values`: a mapping from helm template name to a mapping of Helm values."""
    result: dict[str, dict[str, Any]] = {}
    for name, values in _mapping(value, where, lines, at).items():
        if not isinstance(values, Mapping):
            lines.report(
                f"{where}.{name} must be a mapping of Helm values, got {values!r}", *at, str(name)
            )
            continue
        result[str(name)] = copy.deepcopy(dict(values))
    return result


def _check_keys(
    data: Mapping[str, Any],
    known: frozenset[str],
    where: str,
    lines: _Lines,
    at: tuple[str | int, ...],
) -> None:
    prefix = f"{where}." if where else ""
    for key in (str(key) for key in data if key not in known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.report(
            f"not supported: {prefix}{key}{hint}; supported fields are {', '.join(sorted(known))}",
            *at,
            key,
        )


def _mapping(value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        lines.report(f"{where} must be a mapping", *at)
        return {}
    return value


def _string_map(value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]) -> dict[str, str]:
    """Read a mapping of parameter values, reporting each value that is not a string."""
    result: dict[str, str] = {}
    for key, item in _mapping(value, where, lines, at).items():
        problem = _parameter_problem(item, lines.value_node(*at, str(key)))
        if problem:
            lines.report(f"{where}.{key} {problem}", *at, str(key))
            continue
        result[str(key)] = _parameter_text(item)
    return result


def _parameter_text(value: str | int | bool) -> str:
    """Return a parameter value as text: `true`, `false` and decimal numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parameter_problem(value: Any, node: Node | None) -> str | None:
    """Say why a parameter value is not a string as written, or return None when it is.

    Workflow parameters are strings. An unquoted `true`, `false` or decimal integer is
    taken as its text, as in workflow files. A float, or a boolean or integer written in
    another form (`yes`, `True`, `010`, `0x1F`), would reach the workflow as text other
    than what was written, so it is rejected with the quoted form to write instead.
    """
    if isinstance(value, str):
        return None
    if value is None:
        return 'has no value; write "" for an empty string'
    if isinstance(value, Mapping | list):
        return "must be a string, not a mapping or list; quote JSON text to pass a structure"
    written = node.value if isinstance(node, ScalarNode) else repr(value)
    quoted = json.dumps(written)
    if isinstance(value, bool | int):
        if _parameter_text(value) == written:
            return None
        kind = "boolean" if isinstance(value, bool) else "integer"
        shown = _parameter_text(value)
    elif isinstance(value, float):
        kind, shown = "float", repr(value)
    else:
        return f"must be a string, got {value!r}; quote it: {quoted}"
    return (
        f"is the {kind} {shown} (written {written}), but parameters are strings; quote it: {quoted}"
    )
