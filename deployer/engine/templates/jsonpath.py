"""The subset of kubectl's JSONPath that output parameters use: `{.status.loadBalancer}`.

Supported, inside one pair of braces (the braces and the leading `$` are optional):
- dotted fields `.spec.clusterIP`; a dot inside a key is escaped as `\\.`
  (`.metadata.annotations.deployer\\.dev/wave`);
- bracketed keys `['app.kubernetes.io/name']` and list indexes `[0]`, `[-1]`;
- wildcards `[*]` and `.*`;
- filters `[?(@.type=="Ready")]` and `[?(@.port==80)]`, comparing one field with `==`
  or `!=`.

The result is formatted as `kubectl -o jsonpath` prints it: strings bare, other values
as JSON, several matches separated by one space.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from deployer.errors import InputError

_FILTER = re.compile(
    r"""\?\(@(?P<path>(?:\.[\w/-]+)+)\s*(?P<op>==|!=)\s*(?P<value>"[^"]*"|'[^']*'|[^)\s]+)\s*\)"""
)


class JsonPathError(InputError):
    """A JSONPath expression could not be parsed."""


def find(obj: Any, expression: str) -> list[Any]:
    """Return every value in `obj` that the JSONPath `expression` selects."""
    values = [obj]
    for step in _parse(expression):
        values = [found for value in values for found in _apply(step, value)]
    return values


def format_values(values: list[Any]) -> str:
    """Format selected values as `kubectl -o jsonpath` prints them."""
    return " ".join(value if isinstance(value, str) else json.dumps(value) for value in values)


def check(expression: str) -> None:
    """Raise JsonPathError when `expression` is not valid in this subset."""
    _parse(expression)


def field_names(expression: str) -> list[str | None]:
    """Return the steps of a valid expression: a key's name, or None for an index,
    wildcard or filter. `{.data.token}` gives `["data", "token"]`."""
    return [argument if kind == "key" else None for kind, argument in _parse(expression)]


def _parse(expression: str) -> list[tuple[str, Any]]:
    text = expression.strip()
    opened, closed = text.startswith("{"), text.endswith("}")
    if opened != closed:
        missing = "closing '}'" if opened else "opening '{'"
        raise JsonPathError(
            f"invalid JSONPath {expression!r}: the {missing} is missing "
            "(write paths like {.spec.clusterIP})"
        )
    if opened:
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == ".":
            position = _parse_field(text, position + 1, steps)
        elif char == "[":
            end = text.find("]", position)
            if end < 0:
                raise JsonPathError(f"invalid JSONPath {expression!r}: unclosed '['")
            steps.append(_parse_bracket(text[position + 1 : end], expression))
            position = end + 1
        else:
            raise JsonPathError(
                f"invalid JSONPath {expression!r} at position {position}: "
                "expected '.' or '[' (write paths like {.spec.clusterIP})"
            )
    return steps


def _parse_field(text: str, position: int, steps: list[tuple[str, Any]]) -> int:
    key: list[str] = []
    while position < len(text) and text[position] not in ".[":
        if text[position] == "\\" and position + 1 < len(text):
            position += 1
        key.append(text[position])
        position += 1
    name = "".join(key)
    steps.append(("wildcard", None) if name == "*" else ("key", name))
    return position


def _parse_bracket(inner: str, expression: str) -> tuple[str, Any]:
    inner = inner.strip()
    if inner == "*":
        return ("wildcard", None)
    if inner[:1] in "'\"" and inner[-1:] == inner[:1] and len(inner) >= 2:
        return ("key", inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    matched = _FILTER.fullmatch(inner)
    if matched:
        path = matched["path"].split(".")[1:]
        return ("filter", (path, matched["op"], _literal(matched["value"])))
    raise JsonPathError(f"invalid JSONPath {expression!r}: unsupported selector [{inner}]")


def _literal(text: str) -> Any:
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _apply(step: tuple[str, Any], value: Any) -> Iterator[Any]:
    kind, argument = step
    if kind == "key":
        if isinstance(value, dict) and argument in value:
            yield value[argument]
    elif kind == "index":
        if isinstance(value, list) and -len(value) <= argument < len(value):
            yield value[argument]
    elif kind == "wildcard":
        if isinstance(value, dict):
            yield from value.values()
        elif isinstance(value, list):
            yield from value
    elif kind == "filter" and isinstance(value, list):
        path, op, expected = argument
        for item in value:
            found = _lookup(item, path)
            if (found == expected) == (op == "=="):
                yield item


def _lookup(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
