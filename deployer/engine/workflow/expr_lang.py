"""A subset of expr-lang, the language of Argo's `{{=expression}}` placeholders.

Supported:
- literals: integers, floats, 'single' or "double" quoted strings (backslash escapes),
  `true`, `false`, `nil`, and array literals `[a, b]`;
- arithmetic `+ - * / %` on numbers, `+` also joins two strings, unary `-`;
- comparisons `== != < <= > >=` (numbers with numbers, strings with strings; `==` of
  different types is false) and `in` on arrays and strings;
- logic `&& || !` and `and or not`, and the ternary `cond ? a : b`;
- variables as member chains: `inputs.parameters.x`, `inputs.parameters['x-y']`,
  `steps['step-a'].outputs.result`, `item`, `item.key`, `retries`, `workflow.name`;
  a chain is looked up as one dotted name, so `inputs.parameters['x-y']` reads
  `inputs.parameters.x-y`. Variable values are strings, as in Argo, so arithmetic on
  them needs `asInt()` or `asFloat()`;
- functions `asInt(x)`, `asFloat(x)`, `string(x)`, `toJson(x)`, `fromJson(text)`,
  `jsonpath(json, path)` (paths made of `$`, `.key`, `['key']`, `[n]` and `[*]`),
  `len(x)`, `lower(s)`, `upper(s)` and `trim(s)`.

Not supported: `sprig.*` functions, closures and the pipe operator; using them raises
WorkflowError naming the expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from deployer.engine.workflow.expr_parse import Node, parse_expression
from deployer.errors import WorkflowError

Resolve = Callable[[str], str]

_JSONPATH_SEGMENT = re.compile(
    r"""\.(?P<dot>[A-Za-z0-9_-]+|\*)|\[(?:(?P<index>-?\d+)|'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<star>\*))\]"""
)


def expression_variables(text: str) -> set[str]:
    """Return the dotted variable names an expression reads, for static checks.

    Raises WorkflowError, as evaluation would, for a syntax error or a call of a function
    that is not supported, so that the expression fails before the run starts.
    """
    names: set[str] = set()

    def visit(node: Node) -> None:
        if node.op == "var":
            names.add(".".join(node.args))
            return
        if node.op == "call":
            reason = _call_problem(str(node.args[0]))
            if reason:
                raise WorkflowError(f"cannot evaluate expression {text!r}: {reason}")
        for arg in node.args:
            if isinstance(arg, Node):
                visit(arg)

    visit(parse_expression(text))
    return names


def _call_problem(name: str) -> str:
    """Return why a call of function `name` cannot be evaluated, or "" when it can."""
    if name.startswith("sprig."):
        return f"not supported: sprig functions ({name})"
    if name not in _FUNCTIONS:
        return f"unknown function {name}; supported: {', '.join(sorted(_FUNCTIONS))}"
    return ""


def evaluate_expression(text: str, resolve: Resolve) -> Any:
    """Evaluate an expr-lang expression; `resolve` maps a dotted name to its text.

    Raises WorkflowError naming the expression for syntax errors, undefined variables
    (when `resolve` raises KeyError), type errors and unsupported functions.
    """
    return _Evaluator(text, resolve).evaluate(parse_expression(text))


def expression_text(value: Any) -> str:
    """Render an expression result as placeholder text: JSON for arrays and maps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def jsonpath(document: Any, path: str) -> Any:
    """Select from a JSON document (or its text) with a basic JSONPath such as `$.a[0].b`.

    A `[*]` or `.*` segment makes the result a list of every match.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise ValueError(f"jsonpath needs JSON text: {exc}") from exc
    if not path.startswith("$"):
        raise ValueError(f"a JSONPath starts with '$', got {path!r}")
    values, many, position = [document], False, 1
    while position < len(path):
        match = _JSONPATH_SEGMENT.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
        position = match.end()
        values, wildcard = _jsonpath_step(values, match)
        many = many or wildcard
    return values if many else values[0]


def _jsonpath_step(values: list[Any], match: re.Match[str]) -> tuple[list[Any], bool]:
    if match.group("star") or match.group("dot") == "*":
        selected: list[Any] = []
        for value in values:
            selected.extend(value.values() if isinstance(value, dict) else value)
        return selected, True
    index = match.group("index")
    if index is not None:
        return [value[int(index)] for value in values], False
    key = match.group("dot") or match.group("single") or match.group("double") or ""
    return [value[key] for value in values], False


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"asInt needs a number or numeric text, got {value!r}")


def _to_float(value: Any) -> float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"asFloat needs a number or numeric text, got {value!r}")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": _to_int,
    "asFloat": _to_float,
    "string": expression_text,
    "toJson": lambda value: json.dumps(value, separators=(",", ":")),
    "fromJson": json.loads,
    "jsonpath": jsonpath,
    "len": len,
    "lower": lambda text: text.lower(),
    "upper": lambda text: text.upper(),
    "trim": lambda text: text.strip(),
}


class _Evaluator:
    """Evaluate parsed nodes; every failure becomes a WorkflowError showing the expression."""

    def __init__(self, text: str, resolve: Resolve) -> None:
        self.text = text
        self.resolve = resolve

    def fail(self, reason: str) -> WorkflowError:
        return WorkflowError(f"cannot evaluate expression {self.text!r}: {reason}")

    def evaluate(self, node: Node) -> Any:
        handler = getattr(self, f"_eval_{node.op}")
        return handler(*node.args)

    def _eval_lit(self, value: Any) -> Any:
        return value

    def _eval_var(self, *parts: str) -> Any:
        name = ".".join(parts)
        if parts[0] == "sprig":
            raise self.fail(f"not supported: sprig functions ({name})")
        if name in _FUNCTIONS:
            raise self.fail(f"{name} is a function; call it as {name}(...)")
        try:
            return self.resolve(name)
        except KeyError:
            raise self.fail(f"undefined variable {name}") from None

    def _eval_array(self, *items: Node) -> list[Any]:
        return [self.evaluate(item) for item in items]

    def _eval_index(self, base: Node, key: Node) -> Any:
        container, index = self.evaluate(base), self.evaluate(key)
        try:
            return container[index]
        except (KeyError, IndexError, TypeError) as exc:
            raise self.fail(f"cannot index {container!r} with {index!r}") from exc

    def _eval_call(self, name: str, *args: Node) -> Any:
        reason = _call_problem(name)
        if reason:
            raise self.fail(reason)
        function = _FUNCTIONS[name]
        values = [self.evaluate(arg) for arg in args]
        try:
            return function(*values)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise self.fail(f"{name}() failed: {exc}") from exc

    def _eval_unary(self, op: str, operand: Node) -> Any:
        value = self.evaluate(operand)
        if op == "!":
            return not self.boolean(value, "!")
        if _category(value) != "number":
            raise self.fail(f"unary {op} needs a number, got {value!r}; convert with asInt()")
        return -value if op == "-" else value

    def _eval_ternary(self, condition: Node, when_true: Node, when_false: Node) -> Any:
        chosen = when_true if self.boolean(self.evaluate(condition), "?:") else when_false
        return self.evaluate(chosen)

    def _eval_binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.evaluate(left_node)
        if op in ("&&", "||"):
            # Short-circuit as expr-lang does: the right side runs only when needed.
            if self.boolean(left, op) == (op == "||"):
                return op == "||"
            return self.boolean(self.evaluate(right_node), op)
        right = self.evaluate(right_node)
        if op in ("==", "!="):
            equal = _category(left) == _category(right) and left == right
            return equal if op == "==" else not equal
        if op == "in":
            return self.contains(right, left)
        return self.arithmetic_or_order(op, left, right)

    def arithmetic_or_order(self, op: str, left: Any, right: Any) -> Any:
        kinds = (_category(left), _category(right))
        strings = kinds == ("str", "str")
        if kinds != ("number", "number") and not (strings and op in ("+", "<", "<=", ">", ">=")):
            raise self.fail(
                f"cannot apply {op} to {left!r} and {right!r}; "
                "variables are strings, so convert them with asInt() or asFloat()"
            )
        if op == "/" and right == 0:
            raise self.fail("division by zero")
        if op == "%" and not (isinstance(left, int) and isinstance(right, int)):
            raise self.fail(f"% needs integers, got {left!r} and {right!r}")
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "%": lambda a, b: a % b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return operations[op](left, right)

    def contains(self, container: Any, value: Any) -> bool:
        if isinstance(container, str) and isinstance(value, str):
            return value in container
        if isinstance(container, dict):
            return value in container
        if isinstance(container, list):
            return any(_category(v) == _category(value) and v == value for v in container)
        raise self.fail(f"'in' needs an array, map or string on the right, got {container!r}")

    def boolean(self, value: Any, op: str) -> bool:
        if isinstance(value, bool):
            return value
        raise self.fail(f"{op} needs true or false, got {value!r}; compare text with == 'true'")
