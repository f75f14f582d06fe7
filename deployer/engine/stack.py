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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from deployer.engine.workflow.parse import load_with_templates, load_workflow
from deployer.errors import InputError, WorkflowError
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

    Each InputError names the line of the offending key or list item.
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
        raise lines.error("a stack document must be a mapping")
    _check_header(data, lines)

    spec = _mapping(data.get("spec"), "spec", lines, ("spec",))
    _check_keys(spec, _SPEC_KEYS, "spec", lines, ("spec",))
    metadata = _mapping(data.get("metadata"), "metadata", lines, ("metadata",))
    name = str(metadata.get("name") or path.stem)

    entries = spec.get("workflows")
    if not isinstance(entries, list) or not entries:
        raise lines.error("spec.workflows must be a non-empty list", "spec", "workflows")
    workflows = tuple(
        _read_entry(entry, index, base_dir=path.parent, lines=lines)
        for index, entry in enumerate(entries)
    )
    _check_entry_names(workflows, file=file)

    context = spec.get("context")
    return Stack(
        name=name,
        file=path,
        description=str(spec.get("description") or ""),
        context=str(context) if context else None,
        parameters=_string_map(
            spec.get("parameters"), "spec.parameters", lines, ("spec", "parameters")
        ),
        workflows=workflows,
    )


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
    """Raise WorkflowError for the first workflow of the stack whose entrypoint is no dag."""
    for entry in stack.workflows:
        workflow, _ = load_with_templates(entry.file)
        entrypoint_dag(workflow)


def load_stack_workflows(stack: Stack) -> list[Workflow]:
    """Parse every workflow file of a stack, in stack order."""
    return [load_workflow(entry.file) for entry in stack.workflows]


class _Lines:
    """The lines of the keys and list items of one stack document, for error messages."""

    def __init__(self, file: str, root: Node | None, document_line: int) -> None:
        self.file = file
        self.root = root
        self.document_line = document_line

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

    def error(self, message: str, *path: str | int) -> InputError:
        """Build an InputError at the line of `path` (see `of`)."""
        return InputError(message, file=self.file, line=self.of(*path))


def _key_and_value(node: Node | None, key: str) -> tuple[Node, Node] | None:
    """Return the key and value nodes of the string key `key` of a mapping node, if any."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _check_header(data: Mapping[str, Any], lines: _Lines) -> None:
    _check_keys(data, _TOP_KEYS, "", lines, ())
    for key, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        if data.get(key) != expected:
            raise lines.error(
                f"not a stack: expected apiVersion {API_VERSION} and kind {KIND}, "
                f"got {data.get('apiVersion')!r} and {data.get('kind')!r}",
                key,
            )


def _read_entry(entry: Any, index: int, *, base_dir: Path, lines: _Lines) -> StackWorkflow:
    where = f"spec.workflows[{index}]"
    at = ("spec", "workflows", index)
    body = _mapping(entry, where, lines, at)
    _check_keys(body, _ENTRY_KEYS, where, lines, at)
    workflow_file = body.get("file")
    if not isinstance(workflow_file, str) or not workflow_file:
        raise lines.error(f"{where}.file is missing or not a string", *at, "file")
    resolved = (base_dir / workflow_file).resolve()
    if not resolved.is_file():
        raise lines.error(f"{where}.file: workflow file not found: {resolved}", *at, "file")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name or "." in name):
        raise lines.error(
            f"{where}.name must be a non-empty string without dots, got {name!r}", *at, "name"
        )
    parameters = _string_map(
        body.get("parameters"), f"{where}.parameters", lines, (*at, "parameters")
    )
    values = _values_map(body.get("values"), f"{where}.values", lines, (*at, "values"))
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


def _check_entry_names(entries: Sequence[StackWorkflow], *, file: str) -> None:
    seen: dict[str, StackWorkflow] = {}
    for entry in entries:
        first = seen.setdefault(entry.label, entry)
        if first is not entry:
            raise InputError(
                f"two workflow entries are called {entry.label} (lines {first.line} and "
                f"{entry.line}); give one of them its own `name:`",
                file=file,
                line=entry.line or None,
            )


def _values_map(
    value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]
) -> dict[str, dict[str, Any]]:
    """Read `values`: a mapping from helm template name to a mapping of Helm values."""
    result: dict[str, dict[str, Any]] = {}
    for name, values in _mapping(value, where, lines, at).items():
        if not isinstance(values, Mapping):
            raise lines.error(
                f"{where}.{name} must be a mapping of Helm values, got {values!r}", *at, str(name)
            )
        result[str(name)] = copy.deepcopy(dict(values))
    return result


def _check_keys(
    data: Mapping[str, Any],
    known: frozenset[str],
    where: str,
    lines: _Lines,
    at: tuple[str | int, ...],
) -> None:
    unknown = [str(key) for key in data if key not in known]
    if unknown:
        prefix = f"{where}." if where else ""
        named = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            named.append(prefix + key + (f" (did you mean {close[0]}?)" if close else ""))
        raise lines.error(
            f"not supported: {', '.join(named)}; supported fields are {', '.join(sorted(known))}",
            *at,
            unknown[0],
        )


def _mapping(value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise lines.error(f"{where} must be a mapping", *at)
    return value


def _string_map(value: Any, where: str, lines: _Lines, at: tuple[str | int, ...]) -> dict[str, str]:
    mapping = _mapping(value, where, lines, at)
    result: dict[str, str] = {}
    for key, item in mapping.items():
        if isinstance(item, bool | dict | list) or item is None:
            raise lines.error(
                f'{where}.{key} must be a string (quote values such as "true"), got {item!r}',
                *at,
                str(key),
            )
        result[str(key)] = str(item)
    return result
