"""Field readers for the workflow parser: a line-aware YAML loader and typed key access.

The loader keeps the line of every mapping and of each of its keys, so a problem can
name `file:line`. Unlike yaml.safe_load it leaves dates such as 2021-01-01 as strings,
as Kubernetes does when it reads YAML through JSON. It rejects a key written twice in one
mapping, but a written key may override one merged in with `<<`.
Workflow files do not go through deployer.sources.loader, because that loader renders
Jinja2 first, which would consume Argo's `{{...}}` placeholders.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deployer.errors import WorkflowError
from deployer.model.workflow import (
    Backoff,
    Metadata,
    Outputs,
    Parameter,
    RetryStrategy,
    ValueFrom,
)

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LineMap(dict[str, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int | None = None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that builds LineMap mappings and rejects duplicate keys."""

    def construct_line_map(self, node: yaml.MappingNode) -> LineMap:
        written_count = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        # flatten_mapping puts the keys merged in with `<<` first and the written keys
        # after them, so a written key overrides a merged one, as in yaml.safe_load.
        self.flatten_mapping(node)
        first_written = len(node.value) - written_count
        result = LineMap()
        result.line = node.start_mark.line + 1
        written: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if index >= first_written:
                if key in written:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                written.add(key)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_line_map,
)
# Drop the timestamp resolver so that unquoted dates stay text, as the API server reads them.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_documents(path: Path) -> list[Any]:
    """Read every YAML document of a file, skipping empty ones; raise WorkflowError on failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError(f"{path}: cannot read workflow file: {exc}") from exc
    try:
        return [doc for doc in yaml.load_all(text, Loader=_LineLoader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise WorkflowError(f"{path}{line}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: invalid YAML: {exc}") from exc


def line_of(node: object, key: str | None = None) -> int | None:
    """Return the line of a mapping, or of one of its keys, when the loader recorded it."""
    if not isinstance(node, LineMap):
        return None
    if key is not None and key in node.key_lines:
        return node.key_lines[key]
    return node.line


def scalar_text(value: object) -> str | None:
    """Convert a YAML scalar to the text Argo would see, or None for non-scalars.

    Booleans become `true`/`false` and whole floats lose the `.0`, as they do when
    Kubernetes converts YAML to JSON and Argo reads the number as a string.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def describe_type(value: object) -> str:
    """Name the YAML type of a parsed value for a message, such as `a mapping` or `a list`."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def join_path(path: str, key: str) -> str:
    """Join a field path and a key: `spec` + `templates` gives `spec.templates`."""
    return f"{path}.{key}" if path else key


class Reader:
    """Typed access to the keys of one document, collecting every problem found."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def problem(self, node: object, key: str | None, message: str) -> None:
        """Record a problem at the line of `node[key]` (or of `node`)."""
        line = line_of(node, key)
        where = f"{self.file}:{line}" if line is not None else self.file
        self.problems.append(f"{where}: {message}")

    def raise_problems(self) -> None:
        """Raise one WorkflowError listing every recorded problem, if there are any."""
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise WorkflowError(self.problems[0])
        lines = "\n".join(f"  {p}" for p in self.problems)
        raise WorkflowError(f"{len(self.problems)} problems in {self.file}:\n{lines}")

    def check_keys(
        self,
        node: Mapping[str, Any],
        path: str,
        allowed: frozenset[str],
        argo_fields: frozenset[str] = frozenset(),
    ) -> None:
        """Report every key of `node` outside `allowed` as `not supported: <path.key>`.

        A key in `argo_fields` is named as an Argo field that deployer lacks, not as a typo.
        """
        for key in node:
            if key in allowed:
                continue
            if key in argo_fields:
                self.problem(
                    node,
                    key,
                    f"not supported: {join_path(path, key)}; deployer does not support this "
                    "Argo field yet",
                )
                continue
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.problem(node, key, f"not supported: {join_path(path, key)}{hint}")

    def mapping(self, node: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        """Return `node[key]` as a mapping; missing or null gives an empty mapping."""
        value = node.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(node, key, f"{path} must be a mapping, got {describe_type(value)}")
            return {}
        return value

    def sequence(self, node: Mapping[str, Any], key: str, path: str) -> list[Any]:
        """Return `node[key]` as a list; missing or null gives an empty list."""
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(node, key, f"{path} must be a list, got {describe_type(value)}")
            return []
        return value

    def string(self, node: Mapping[str, Any], key: str, path: str) -> str | None:
        """Return `node[key]` as text; numbers and booleans are converted as Argo does."""
        value = node.get(key)
        if value is None:
            return None
        text = scalar_text(value)
        if text is None:
            self.problem(node, key, f"{path} must be a string, got {describe_type(value)}")
        return text

    def required_string(self, node: Mapping[str, Any], key: str, path: str) -> str:
        """Return `node[key]` as non-empty text, recording a problem when it is missing."""
        text = self.string(node, key, path)
        if not text:
            self.problem(node, key, f"{path} is missing")
            return ""
        return text

    def string_map(self, node: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """Return `node[key]` as a mapping of text to text (labels, annotations)."""
        result: dict[str, str] = {}
        raw = self.mapping(node, key, path)
        for name, value in raw.items():
            text = scalar_text(value) if value is not None else ""
            if text is None:
                self.problem(raw, name, f"{path}.{name} must be a string")
                continue
            result[name] = text
        return result

    def integer(self, node: Mapping[str, Any], key: str, path: str) -> int | None:
        """Return `node[key]` as an int, recording a problem for anything else."""
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(node, key, f"{path} must be an integer, got {value!r}")
            return None
        return value

    def int_or_text(self, node: Mapping[str, Any], key: str, path: str) -> int | str | None:
        """Return an int-or-string field: an int, or text that contains a `{{...}}` placeholder."""
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value.strip().lstrip("-").isdigit():
                return int(value)
            if _PLACEHOLDER.search(value):
                return value
        self.problem(node, key, f"{path} must be an integer or a {{{{...}}}} placeholder")
        return None

    def boolean(self, node: Mapping[str, Any], key: str, path: str) -> bool | None:
        """Return `node[key]` as a bool, recording a problem for anything else."""
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(node, key, f"{path} must be true or false, got {value!r}")
            return None
        return value


_PARAMETER_KEYS = frozenset({"name", "value", "default", "enum", "valueFrom", "description"})
# NOTE: valueFrom.supplied is parsed into the model but not accepted yet, because the
# runner takes no values on resume.
_VALUE_FROM_KEYS = frozenset({"path", "jsonPath", "object", "expression", "parameter", "default"})
_RETRY_KEYS = frozenset({"limit", "retryPolicy", "backoff", "expression"})
_BACKOFF_KEYS = frozenset({"duration", "factor", "maxDuration"})
_RETRY_POLICIES = frozenset({"Always", "OnFailure", "OnError", "OnTransientError"})


def read_parameters(
    reader: Reader, node: Mapping[str, Any], path: str, *, outputs: bool = False
) -> list[Parameter]:
    """Read `node.parameters` as a list of Parameter, reporting duplicate names.

    Only output parameters (`outputs` set) may have a `valueFrom`.
    """
    parameters: list[Parameter] = []
    names: set[str] = set()
    for index, raw in enumerate(reader.sequence(node, "parameters", f"{path}.parameters")):
        item_path = f"{path}.parameters[{index}]"
        if not isinstance(raw, Mapping):
            reader.problem(node, "parameters", f"{item_path} must be a mapping")
            continue
        if not outputs and "valueFrom" in raw:
            reader.problem(
                raw, "valueFrom", f"not supported: {item_path}.valueFrom; only outputs take one"
            )
        parameter = read_parameter(reader, raw, item_path)
        if parameter.name in names:
            reader.problem(raw, "name", f"{item_path}: duplicate parameter {parameter.name!r}")
        names.add(parameter.name)
        parameters.append(parameter)
    return parameters


def read_parameter(reader: Reader, raw: Mapping[str, Any], path: str) -> Parameter:
    """Read one parameter mapping."""
    reader.check_keys(raw, path, _PARAMETER_KEYS)
    enum: list[str] = []
    for value in reader.sequence(raw, "enum", f"{path}.enum"):
        text = scalar_text(value)
        if text is None:
            reader.problem(raw, "enum", f"{path}.enum values must be scalars")
            continue
        enum.append(text)
    return Parameter(
        name=reader.required_string(raw, "name", f"{path}.name"),
        value=_parameter_value(reader, raw, "value", f"{path}.value"),
        default=_parameter_value(reader, raw, "default", f"{path}.default"),
        enum=enum,
        value_from=_read_value_from(reader, raw, f"{path}.valueFrom"),
        description=reader.string(raw, "description", f"{path}.description"),
    )


def _parameter_value(reader: Reader, raw: Mapping[str, Any], key: str, path: str) -> str | None:
    value = raw.get(key)
    if isinstance(value, Mapping | list):
        # Argo takes only strings here, so structured values travel as JSON text.
        reader.problem(raw, key, f"{path} must be a string; quote JSON text to pass a structure")
        return None
    return reader.string(raw, key, path)


def _read_value_from(reader: Reader, raw: Mapping[str, Any], path: str) -> ValueFrom | None:
    if "valueFrom" not in raw:
        return None
    node = reader.mapping(raw, "valueFrom", path)
    reader.check_keys(node, path, _VALUE_FROM_KEYS)
    return ValueFrom(
        path=reader.string(node, "path", f"{path}.path"),
        json_path=reader.string(node, "jsonPath", f"{path}.jsonPath"),
        object=reader.string(node, "object", f"{path}.object"),
        expression=reader.string(node, "expression", f"{path}.expression"),
        parameter=reader.string(node, "parameter", f"{path}.parameter"),
        default=reader.string(node, "default", f"{path}.default"),
        supplied="supplied" in node,
    )


def read_arguments(reader: Reader, node: Mapping[str, Any], path: str) -> list[Parameter]:
    """Read an `arguments` (or `inputs`) mapping of which only `parameters` is supported."""
    key = path.rsplit(".", 1)[-1]
    arguments = reader.mapping(node, key, path)
    reader.check_keys(arguments, path, frozenset({"parameters"}))
    return read_parameters(reader, arguments, path)


def read_outputs(reader: Reader, node: Mapping[str, Any], path: str) -> Outputs:
    """Read a template's `outputs`, of which only `parameters` is supported."""
    outputs = reader.mapping(node, "outputs", path)
    reader.check_keys(outputs, path, frozenset({"parameters"}))
    return Outputs(parameters=read_parameters(reader, outputs, path, outputs=True))


def read_metadata(reader: Reader, node: Mapping[str, Any], key: str, path: str) -> Metadata:
    """Read a labels-and-annotations mapping such as a template's `metadata`."""
    raw = reader.mapping(node, key, path)
    reader.check_keys(raw, path, frozenset({"labels", "annotations"}))
    return Metadata(
        labels=reader.string_map(raw, "labels", f"{path}.labels"),
        annotations=reader.string_map(raw, "annotations", f"{path}.annotations"),
    )


def read_retry_strategy(reader: Reader, node: Mapping[str, Any], path: str) -> RetryStrategy | None:
    """Read `retryStrategy`; Argo's default policy is OnFailure."""
    if "retryStrategy" not in node:
        return None
    raw = reader.mapping(node, "retryStrategy", path)
    reader.check_keys(raw, path, _RETRY_KEYS)
    policy = reader.string(raw, "retryPolicy", f"{path}.retryPolicy") or "OnFailure"
    if policy not in _RETRY_POLICIES:
        allowed = ", ".join(sorted(_RETRY_POLICIES))
        reader.problem(raw, "retryPolicy", f"{path}.retryPolicy {policy!r} is not one of {allowed}")
    backoff = None
    if "backoff" in raw:
        node_b = reader.mapping(raw, "backoff", f"{path}.backoff")
        reader.check_keys(node_b, f"{path}.backoff", _BACKOFF_KEYS)
        backoff = Backoff(
            duration=reader.string(node_b, "duration", f"{path}.backoff.duration"),
            factor=_read_factor(reader, node_b, f"{path}.backoff.factor"),
            max_duration=reader.string(node_b, "maxDuration", f"{path}.backoff.maxDuration"),
        )
    return RetryStrategy(
        limit=reader.int_or_text(raw, "limit", f"{path}.limit"),
        retry_policy=policy,
        backoff=backoff,
        expression=reader.string(raw, "expression", f"{path}.expression"),
    )


def _read_factor(reader: Reader, node: Mapping[str, Any], path: str) -> float | None:
    # The runner reads the factor before any substitution, so a placeholder cannot work here.
    value = node.get("factor")
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    reader.problem(node, "factor", f"{path} must be a number, got {value!r}")
    return None
