"""`{{...}}` placeholders and loop expansion for workflow templates.

A Scope maps flat dotted names (`inputs.parameters.my-param`,
`steps.step-a.outputs.result`, `workflow.name`, ...) to text; the runner fills it for
each node. `{{item}}` and `{{item.KEY}}` read the current loop item, and `{{=expr}}`
evaluates an expr-lang expression (see expr_lang). Names may contain dashes, and
spaces just inside the braces are ignored: `{{ inputs.parameters.x }}`.

Loop items are rendered as Argo renders them: strings exactly as written (quotes and
JSON text included), numbers and booleans as their YAML text, and maps and lists as
compact JSON with keys in the order written. Loop children are named
`step(INDEX:LABEL)`, where LABEL is the item text for scalars, `key:value,...` for
maps (keys in the order written) and JSON for lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from deployer.engine.workflow.expr_lang import evaluate_expression, expression_text
from deployer.engine.workflow.parse_fields import describe_type
from deployer.errors import WorkflowError
from deployer.model.workflow import Step, WithSequence

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class JsonNumber(float):
    """A JSON number from withParam that keeps its text, so `1.0` stays `1.0` in `{{item}}`."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


class _NoItem:
    """The marker for a scope outside any loop."""

    def __repr__(self) -> str:
        return "NO_ITEM"


NO_ITEM: Any = _NoItem()


@dataclass(frozen=True)
class Scope:
    """The variables visible to one node: flat dotted names to text, plus the loop item."""

    values: Mapping[str, str] = field(default_factory=dict)
    item: Any = NO_ITEM

    def resolve(self, name: str) -> str:
        """Return the text of variable `name`; raise KeyError when it is undefined."""
        if name in self.values:
            return self.values[name]
        if self.item is not NO_ITEM and (name == "item" or name.startswith("item.")):
            return item_text(self._item_field(name))
        raise KeyError(name)

    def _item_field(self, name: str) -> Any:
        value = self.item
        for key in name.split(".")[1:]:
            if not isinstance(value, Mapping) or key not in value:
                raise KeyError(name)
            value = value[key]
        return value

    def with_values(self, values: Mapping[str, str]) -> Scope:
        """Return a scope with `values` added, replacing names already defined."""
        return replace(self, values={**self.values, **values})

    def with_item(self, item: Any) -> Scope:
        """Return a scope in which `{{item}}` is `item`."""
        return replace(self, item=item)


@dataclass(frozen=True)
class Item:
    """One loop item: its position, its value as written, and the child node's label."""

    index: int
    value: Any
    label: str

    def child_name(self, step_name: str) -> str:
        """Name the loop child, Argo-style: `step(0:value)`."""
        return f"{step_name}({self.index}:{self.label})"


def item_text(value: Any) -> str:
    """Render a loop item (or one of its fields) as placeholder text."""
    if isinstance(value, str):
        return value
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return expression_text(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def item_label(value: Any) -> str:
    """Render a loop item for its child's name: `a:1,b:2` for maps."""
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{item_text(field)}" for key, field in value.items())
    return item_text(value)


def placeholders(text: str) -> list[str]:
    """Return the inner text of each `{{...}}` placeholder, stripped: `=expr` or a name."""
    return [match.group(1).strip() for match in PLACEHOLDER.finditer(text)]


def substitute(text: str, scope: Scope, *, keep_unknown: bool = False) -> str:
    """Replace every `{{name}}` and `{{=expr}}` placeholder of `text`.

    An undefined name raises WorkflowError naming it, unless `keep_unknown` is set, in
    which case the placeholder stays as written for a later pass.
    """
    if "{{" not in text:
        return text

    def replace_one(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner.startswith("="):
            return expression_text(evaluate_expression(inner[1:], scope.resolve))
        try:
            return scope.resolve(inner)
        except KeyError:
            if keep_unknown:
                return match.group(0)
            raise WorkflowError(
                f"undefined variable {{{{{inner}}}}}: declare it, or check the spelling"
            ) from None

    return PLACEHOLDER.sub(replace_one, text)


def substitute_value(value: Any, scope: Scope, *, keep_unknown: bool = False) -> Any:
    """Substitute placeholders in every string (and mapping key) of a nested structure."""
    if isinstance(value, str):
        return substitute(value, scope, keep_unknown=keep_unknown)
    if isinstance(value, Mapping):
        return {
            substitute(str(key), scope, keep_unknown=keep_unknown): substitute_value(
                field, scope, keep_unknown=keep_unknown
            )
            for key, field in value.items()
        }
    if isinstance(value, list):
        return [substitute_value(field, scope, keep_unknown=keep_unknown) for field in value]
    return value


def expand_items(step: Step, scope: Scope) -> list[Item]:
    """Expand a step's or task's withItems, withParam or withSequence into its items.

    Returns one Item per loop child, in order; an empty list when the loop has no
    items. Raises WorkflowError naming the step when withParam is not a JSON list or a
    withSequence bound is not an integer.
    """
    if step.with_items is not None:
        values = [_substitute_item(value, scope) for value in step.with_items]
    elif step.with_param is not None:
        values = _param_items(step, substitute(step.with_param, scope))
    elif step.with_sequence is not None:
        values = _sequence_items(step, step.with_sequence, scope)
    else:
        return []
    return [Item(index=i, value=value, label=item_label(value)) for i, value in enumerate(values)]


def _substitute_item(value: Any, scope: Scope) -> Any:
    # Items keep their exact text; only placeholders inside them are resolved.
    if isinstance(value, str) and "{{" not in value:
        return value
    return substitute_value(value, scope)


def _param_items(step: Step, text: str) -> list[Any]:
    try:
        values = json.loads(text, parse_float=JsonNumber)
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"step {step.name}: withParam must be a JSON list, got {_preview(text)} ({exc.msg})"
        ) from exc
    if not isinstance(values, list):
        raise WorkflowError(
            f"step {step.name}: withParam must be a JSON list, got {describe_type(values)} "
            f"{_preview(text)}"
        )
    return values


def _sequence_items(step: Step, sequence: WithSequence, scope: Scope) -> list[str]:
    def bound(name: str, text: str | None) -> int | None:
        if text is None:
            return None
        resolved = substitute(text, scope).strip()
        try:
            return int(resolved)
        except ValueError:
            raise WorkflowError(
                f"step {step.name}: withSequence.{name} must be an integer, got {resolved!r}"
            ) from None

    start = bound("start", sequence.start) or 0
    count = bound("count", sequence.count)
    end = bound("end", sequence.end)
    if count is not None:
        if count < 0:
            raise WorkflowError(f"step {step.name}: withSequence.count must not be negative")
        numbers = list(range(start, start + count))
    elif end is not None:
        numbers = list(range(start, end + 1) if end >= start else range(start, end - 1, -1))
    else:
        raise WorkflowError(f"step {step.name}: withSequence needs count or end")
    if sequence.format is None:
        return [str(number) for number in numbers]
    pattern = substitute(sequence.format, scope)
    try:
        return [pattern % number for number in numbers]
    except (TypeError, ValueError) as exc:
        raise WorkflowError(
            f"step {step.name}: withSequence.format {pattern!r} is not a printf format "
            f"for one integer, such as 'item-%02d' ({exc})"
        ) from exc


def _preview(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
