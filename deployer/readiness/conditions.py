"""Success and failure conditions in the syntax of Argo Workflows resource templates.

A condition is a comma-separated list of requirements, all of which must hold. Each one
reads like a Kubernetes label selector, with a path into the object as the key:

    status.phase == Succeeded          equal (`=` works too)
    status.phase != Running            not equal, or the field is missing
    status.phase in (Failed, Error)    one of the values
    status.phase notin (Failed)        none of the values, or the field is missing
    status.succeeded > 0               numeric comparison; also <, >= and <=
    metadata.labels.app                the field exists
    !status.failed                     the field is missing

A value is any run of characters other than whitespace and `=!<>(),`, so unlike label
selectors it may contain `/` or `:`, as image names do.

Paths are dot-separated keys. Write `\\.` for a dot inside a key, as in
`metadata.labels.app\\.kubernetes\\.io/name`. On a list, a number selects an element
(`status.conditions.0.type`), `#` is the list's length, and any other segment selects the
first element whose `type` or `name` equals it, so `status.conditions.Ready.status == True`
reads the Ready condition. Argo accepts neither that lookup nor `#`, because its keys must
be valid label keys. Dotted keys and numeric indexes read as in the gjson paths Argo uses.

A field's value compares as text: strings as they are, booleans as `true`/`false`, null
as the empty string and objects or lists as compact JSON. Two values compare as numbers
when both are numbers, so `1` equals `1.0`. The orderings `>`, `<`, `>=` and `<=` need a
number in the condition and do not hold for a field whose value is not a number.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from deployer.errors import InputError

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")
_SYMBOLS = ("==", "!=", ">=", "<=", "=", "!", ">", "<", "(", ")", ",")
_SPECIAL_CHARS = frozenset("=!<>(),")


class Operator(enum.Enum):
    """Comparison that a requirement applies to the field and its values."""

    EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    GREATER = ">"
    LESS = "<"
    GREATER_OR_EQUAL = ">="
    LESS_OR_EQUAL = "<="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_COMPARISONS = {
    "=": Operator.EQUALS,
    "==": Operator.EQUALS,
    "!=": Operator.NOT_EQUALS,
    ">": Operator.GREATER,
    "<": Operator.LESS,
    ">=": Operator.GREATER_OR_EQUAL,
    "<=": Operator.LESS_OR_EQUAL,
}
_ORDERINGS = {
    Operator.GREATER: lambda a, b: a > b,
    Operator.LESS: lambda a, b: a < b,
    Operator.GREATER_OR_EQUAL: lambda a, b: a >= b,
    Operator.LESS_OR_EQUAL: lambda a, b: a <= b,
}


def _as_number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _values_equal(left: str, right: str) -> bool:
    left_number, right_number = _as_number(left), _as_number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return left == right


def value_text(value: Any) -> str:
    """Render a field's value as the text that requirements compare against."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return json.dumps(value, separators=(",", ":"))


def _select_in_list(values: Sequence[Any], segment: str) -> tuple[bool, Any]:
    if segment == "#":
        return True, len(values)
    if segment.isdigit():
        index = int(segment)
        return (True, values[index]) if index < len(values) else (False, None)
    for entry in values:
        if isinstance(entry, Mapping) and segment in (entry.get("type"), entry.get("name")):
            return True, entry
    return False, None


def lookup(obj: Any, path: Sequence[str]) -> tuple[bool, Any]:
    """Follow a parsed path through an object; return (found, value)."""
    current = obj
    for segment in path:
        if isinstance(current, Mapping):
            if segment not in current:
                return False, None
            current = current[segment]
        elif isinstance(current, Sequence) and not isinstance(current, str):
            found, current = _select_in_list(current, segment)
            if not found:
                return False, None
        else:
            return False, None
    return True, current


@dataclass(frozen=True)
class Requirement:
    """One requirement of a condition: a path, an operator and the values to compare."""

    key: str  # the path as written, escapes included
    path: tuple[str, ...]
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Tell whether the requirement holds for the object."""
        found, value = lookup(obj, self.path)
        text = value_text(value)
        if self.operator is Operator.EXISTS:
            return found
        if self.operator is Operator.DOES_NOT_EXIST:
            return not found
        if self.operator in (Operator.EQUALS, Operator.IN):
            return found and any(_values_equal(text, wanted) for wanted in self.values)
        if self.operator in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return not found or not any(_values_equal(text, wanted) for wanted in self.values)
        actual, limit = _as_number(text), _as_number(self.values[0])
        if not found or actual is None or limit is None:
            return False
        return bool(_ORDERINGS[self.operator](actual, limit))

    def explain(self, obj: Mapping[str, Any]) -> str:
        """Show the requirement next to the field's actual value, for status messages."""
        found, value = lookup(obj, self.path)
        actual = f"is {value_text(value)!r}" if found else "is missing"
        return f"{self} ({self.key} {actual})"

    def __str__(self) -> str:
        if self.operator is Operator.EXISTS:
            return self.key
        if self.operator is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if self.operator in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {self.operator.value} ({', '.join(self.values)})"
        return f"{self.key} {self.operator.value} {self.values[0]}"


@dataclass(frozen=True)
class Condition:
    """A parsed condition: it matches an object when every requirement holds."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Tell whether every requirement holds for the object."""
        return all(requirement.matches(obj) for requirement in self.requirements)

    def unmet(self, obj: Mapping[str, Any]) -> list[Requirement]:
        """List the requirements that do not hold for the object."""
        return [requirement for requirement in self.requirements if not requirement.matches(obj)]

    def __str__(self) -> str:
        return ", ".join(str(requirement) for requirement in self.requirements)


@dataclass(frozen=True)
class _Token:
    text: str
    position: int  # 0-based offset into the condition text
    symbol: bool  # an operator or punctuation rather than a word


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, index)), None)
        if symbol is not None:
            tokens.append(_Token(symbol, index, symbol=True))
            index += len(symbol)
            continue
        start = index
        while index < len(text) and not text[index].isspace() and text[index] not in _SPECIAL_CHARS:
            index += 1
        tokens.append(_Token(text[start:index], start, symbol=False))
    return tokens


class _Parser:
    """A recursive-descent parser over the tokens of one condition."""

    def __init__(self, text: str, file: str | None, line: int | None) -> None:
        self.text = text
        self.file = file
        self.line = line
        self.tokens = _tokenize(text)
        self.index = 0

    def error(self, message: str, position: int | None = None) -> InputError:
        """Build the syntax error for `message` at `position` (default: the next token)."""
        if position is None:
            token = self.peek()
            position = token.position if token is not None else len(self.text)
        return InputError(
            f"invalid condition {self.text!r}: {message} at column {position + 1}",
            file=self.file,
            line=self.line,
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token | None:
        token = self.peek()
        if token is not None:
            self.index += 1
        return token

    def parse(self) -> Condition:
        if not self.tokens:
            raise self.error("the condition is empty; write at least one requirement")
        requirements = [self.requirement()]
        while self.peek() is not None:
            token = self.take()
            assert token is not None
            if token.text != ",":
                raise self.error(f"expected ',' before {token.text!r}", token.position)
            requirements.append(self.requirement())
        return Condition(self.text, tuple(requirements))

    def key(self) -> tuple[str, tuple[str, ...]]:
        token = self.take()
        if token is None or token.symbol:
            raise self.error("expected a field path", None if token is None else token.position)
        segments = _UNESCAPED_DOT.split(token.text)
        if any(segment == "" for segment in segments):
            raise self.error(f"empty segment in field path {token.text!r}", token.position)
        return token.text, tuple(segment.replace("\\.", ".") for segment in segments)

    def requirement(self) -> Requirement:
        token = self.peek()
        if token is not None and token.text == "!":
            self.take()
            key, path = self.key()
            return Requirement(key, path, Operator.DOES_NOT_EXIST)
        key, path = self.key()
        token = self.peek()
        if token is None or token.text == ",":
            return Requirement(key, path, Operator.EXISTS)
        self.take()
        if token.text in ("in", "notin"):
            operator = Operator.IN if token.text == "in" else Operator.NOT_IN
            return Requirement(key, path, operator, self.value_set())
        operator_ = _COMPARISONS.get(token.text) if token.symbol else None
        if operator_ is None:
            raise self.error(
                f"expected an operator (=, ==, !=, in, notin, >, <, >=, <=) after {key!r}",
                token.position,
            )
        value = self.single_value()
        if operator_ in _ORDERINGS and _as_number(value) is None:
            found = f", not {value!r}" if value else " after it"
            raise self.error(f"operator {token.text} needs a number{found}", token.position)
        return Requirement(key, path, operator_, (value,))

    def single_value(self) -> str:
        token = self.peek()
        # As in label selectors, `key =` followed by the end or a comma compares with "".
        if token is None or token.text == ",":
            return ""
        self.take()
        if token.symbol:
            raise self.error(f"expected a value, not {token.text!r}", token.position)
        return token.text

    def value_set(self) -> tuple[str, ...]:
        opening = self.take()
        if opening is None or opening.text != "(":
            raise self.error(
                "expected '(' to open the list of values",
                None if opening is None else opening.position,
            )
        values = []
        while True:
            token = self.take()
            if token is None:
                raise self.error("missing ')' to close the list of values")
            if token.symbol:
                raise self.error(f"expected a value, not {token.text!r}", token.position)
            values.append(token.text)
            closing = self.take()
            if closing is None:
                raise self.error("missing ')' to close the list of values")
            if closing.text == ")":
                return tuple(values)
            if closing.text != ",":
                raise self.error("expected ',' or ')' in the list of values", closing.position)


@functools.lru_cache(maxsize=256)
def parse_condition(text: str, *, file: str | None = None, line: int | None = None) -> Condition:
    """Parse a success or failure condition; raise InputError naming the column on bad syntax.

    `file` and `line` locate the condition in its source for the error message. Results are
    cached, since the rules parse the same annotation on every watch event.
    """
    return _Parser(text, file, line).parse()
