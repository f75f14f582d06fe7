"""The `when` and `depends` expression languages of Argo-form workflows.

`when` follows Argo's govaluate dialect: `== != < <= > >= =~ !~ && || !`, parentheses,
'single' or "double" quoted strings, numbers, `true`/`false` and bare words such as
`heads` or `2021-01-01` (a bare word is text, never arithmetic). The expression is
parsed first and the values of its `{{...}}` placeholders are bound afterwards as
literals, so a value containing quotes or operators cannot change the expression.
Two operands compare as numbers only when both are fully numeric (`"10" > "9"` holds);
otherwise they compare as text. Ordering a number against text that is not a number
(`5 > abc`) is an error, as Argo's govaluate rejects it too; `==` and `!=` compare such
operands as text.

`depends` combines task results: `A`, `A.Succeeded`, `A.Failed`, `A.Errored`,
`A.Skipped`, `A.Omitted`, `A.Daemoned`, `A.AnySucceeded`, `A.AllFailed`, with
`&& || !` and parentheses. A bare `A` means `A.Succeeded || A.Skipped || A.Daemoned`,
plus `A.Failed` when task A has `continueOn.failed` and `A.Errored` when it has
`continueOn.error`, as Argo expands it (`expandDependency` in workflow/common/ancestry.go,
v3 and v4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from deployer.engine.workflow.expr_lang import evaluate_expression, expression_text
from deployer.errors import WorkflowError

Resolve = Callable[[str], str]

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_WHEN_OPERATORS = ("==", "!=", "<=", ">=", "=~", "!~", "&&", "||", "<", ">", "!")
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "=~", "!~"})
_ORDERINGS = frozenset({"<", "<=", ">", ">="})
_WORD_STOP = set(" \t\r\n()'\"=!<>&|")


@dataclass(frozen=True)
class _Part:
    """A piece of a literal: fixed text, or a placeholder's inner text to look up."""

    text: str
    placeholder: bool = False


@dataclass(frozen=True)
class _Literal:
    parts: tuple[_Part, ...]
    quoted: bool


@dataclass(frozen=True)
class _WhenToken:
    kind: str  # "op", "(", ")", "literal" or "end"
    op: str = ""
    literal: _Literal | None = None
    column: int = 0


def _when_error(expression: str, reason: str) -> WorkflowError:
    return WorkflowError(f"invalid when expression {expression!r}: {reason}")


def _scan_placeholder(text: str, start: int, expression: str) -> tuple[_Part, int]:
    end = text.find("}}", start + 2)
    if end < 0:
        raise _when_error(expression, f"unclosed '{{{{' at column {start + 1}")
    return _Part(text[start + 2 : end].strip(), placeholder=True), end + 2


def _scan_quoted(text: str, start: int) -> tuple[_Literal, int]:
    quote, position = text[start], start + 1
    parts: list[_Part] = []
    buffer: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            buffer.append(text[position + 1])
            position += 2
        elif char == quote:
            parts.append(_Part("".join(buffer)))
            return _Literal(tuple(p for p in parts if p.text or p.placeholder), True), position + 1
        elif text.startswith("{{", position):
            parts.append(_Part("".join(buffer)))
            buffer = []
            part, position = _scan_placeholder(text, position, text)
            parts.append(part)
        else:
            buffer.append(char)
            position += 1
    raise _when_error(text, f"unclosed {quote} string starting at column {start + 1}")


def _scan_word(text: str, start: int) -> tuple[_Literal, int]:
    position = start
    parts: list[_Part] = []
    buffer: list[str] = []
    while position < len(text):
        if text.startswith("{{", position):
            if buffer:
                parts.append(_Part("".join(buffer)))
                buffer = []
            part, position = _scan_placeholder(text, position, text)
            parts.append(part)
        elif text[position] in _WORD_STOP:
            break
        else:
            buffer.append(text[position])
            position += 1
    if buffer:
        parts.append(_Part("".join(buffer)))
    return _Literal(tuple(parts), False), position


def _tokenize_when(text: str) -> list[_WhenToken]:
    tokens: list[_WhenToken] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char in "()":
            tokens.append(_WhenToken(char, column=position))
            position += 1
            continue
        op = next((o for o in _WHEN_OPERATORS if text.startswith(o, position)), None)
        if op is not None:
            tokens.append(_WhenToken("op", op=op, column=position))
            position += len(op)
            continue
        start = position
        if char in "'\"":
            literal, position = _scan_quoted(text, position)
        elif char in "=&|":
            raise _when_error(text, f"unexpected {char!r} at column {position + 1}")
        else:
            literal, position = _scan_word(text, position)
        tokens.append(_WhenToken("literal", literal=literal, column=start))
    tokens.append(_WhenToken("end", column=len(text)))
    return tokens


@dataclass(frozen=True)
class WhenNode:
    """A parsed `when` expression: an operator with operands, or one literal."""

    op: str  # "literal", "!", "&&", "||" or a comparison operator
    operands: tuple[WhenNode, ...] = ()
    literal: _Literal | None = None


class _WhenParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize_when(text)
        self.index = 0

    def take(self) -> _WhenToken:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek_op(self, *ops: str) -> bool:
        token = self.tokens[self.index]
        return token.kind == "op" and token.op in ops

    def parse(self) -> WhenNode:
        if self.tokens[0].kind == "end":
            raise _when_error(self.text, "the expression is empty")
        node = self.logical("||")
        token = self.tokens[self.index]
        if token.kind != "end":
            raise _when_error(self.text, f"unexpected token at column {token.column + 1}")
        return node

    def logical(self, op: str) -> WhenNode:
        node = self.logical("&&") if op == "||" else self.comparison()
        while self.peek_op(op):
            self.take()
            right = self.logical("&&") if op == "||" else self.comparison()
            node = WhenNode(op, (node, right))
        return node

    def comparison(self) -> WhenNode:
        left = self.unary()
        token = self.tokens[self.index]
        if token.kind == "op" and token.op in _COMPARISONS:
            self.take()
            return WhenNode(token.op, (left, self.unary()))
        return left

    def unary(self) -> WhenNode:
        if self.peek_op("!"):
            self.take()
            return WhenNode("!", (self.unary(),))
        token = self.take()
        if token.kind == "(":
            node = self.logical("||")
            if self.take().kind != ")":
                raise _when_error(self.text, "missing ')'")
            return node
        if token.kind == "literal":
            return WhenNode("literal", literal=token.literal)
        where = f"column {token.column + 1}" if token.kind != "end" else "the end"
        raise _when_error(self.text, f"expected a value at {where}")


def parse_when(expression: str) -> WhenNode:
    """Parse a `when` expression; raise WorkflowError showing it when it is invalid."""
    return _WhenParser(expression).parse()


def when_placeholders(expression: str) -> list[str]:
    """Return the inner text of the placeholders a `when` expression reads."""
    found: list[str] = []

    def visit(node: WhenNode) -> None:
        if node.literal is not None:
            found.extend(p.text for p in node.literal.parts if p.placeholder)
        for operand in node.operands:
            visit(operand)

    visit(parse_when(expression))
    return found


def evaluate_when(expression: str, resolve: Resolve) -> bool:
    """Evaluate a `when` expression; `resolve` maps a variable name to its value.

    Raises WorkflowError showing the expression when it is invalid, reads an undefined
    variable (resolve raises KeyError) or does not come out true or false.
    """
    return _WhenEvaluator(expression, resolve).boolean(parse_when(expression))


class _WhenEvaluator:
    def __init__(self, expression: str, resolve: Resolve) -> None:
        self.expression = expression
        self.resolve = resolve

    def text(self, node: WhenNode) -> str:
        if node.literal is None:
            return "true" if self.boolean(node) else "false"
        pieces = []
        for part in node.literal.parts:
            pieces.append(self.lookup(part.text) if part.placeholder else part.text)
        return "".join(pieces)

    def lookup(self, name: str) -> str:
        if name.startswith("="):
            return expression_text(evaluate_expression(name[1:], self.resolve))
        try:
            return self.resolve(name)
        except KeyError:
            raise WorkflowError(
                f"when expression {self.expression!r}: undefined variable {{{{{name}}}}}"
            ) from None

    def boolean(self, node: WhenNode) -> bool:
        if node.op == "literal":
            value = self.text(node)
            if value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise WorkflowError(
                f"when expression {self.expression!r}: {value!r} is not true or false; "
                "compare it with == or !="
            )
        if node.op == "!":
            return not self.boolean(node.operands[0])
        if node.op == "&&":
            return self.boolean(node.operands[0]) and self.boolean(node.operands[1])
        if node.op == "||":
            return self.boolean(node.operands[0]) or self.boolean(node.operands[1])
        return self.compare(node.op, self.text(node.operands[0]), self.text(node.operands[1]))

    def compare(self, op: str, left: str, right: str) -> bool:
        if op in ("=~", "!~"):
            try:
                found = re.search(right, left) is not None
            except re.error as exc:
                raise WorkflowError(
                    f"when expression {self.expression!r}: invalid regular expression "
                    f"{right!r}: {exc}"
                ) from exc
            return found if op == "=~" else not found
        left_numeric, right_numeric = bool(_NUMBER.match(left)), bool(_NUMBER.match(right))
        if left_numeric and right_numeric:
            return _ordered(op, float(left), float(right))
        if op in _ORDERINGS and (left_numeric or right_numeric):
            number, text = (left, right) if left_numeric else (right, left)
            raise WorkflowError(
                f"when expression {self.expression!r}: {op} cannot order the number {number} "
                f"and the text {text!r}; compare two numbers or two texts, or use == or !="
            )
        return _ordered(op, left, right)


def _ordered(op: str, left: float | str, right: float | str) -> bool:
    # Both operands have the same type here: two numbers, or two strings.
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    pair = (left, right)
    if isinstance(pair[0], str) or isinstance(pair[1], str):
        a, b = str(left), str(right)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    x, y = float(left), float(right)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


_DEPENDS_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([A-Za-z0-9][-A-Za-z0-9]*)(?:\.(\w+))?)")
DEPENDS_RESULTS = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "AnySucceeded",
        "AllFailed",
    }
)
_PHASE_OF_RESULT = {
    "Succeeded": "Succeeded",
    "Failed": "Failed",
    "Errored": "Error",
    "Skipped": "Skipped",
    "Omitted": "Omitted",
}


@dataclass(frozen=True)
class DependsExpr:
    """A parsed `depends` expression over the results of earlier DAG tasks."""

    text: str
    op: str  # "ref", "!", "&&" or "||"
    operands: tuple[DependsExpr, ...] = ()
    task: str = ""
    result: str | None = None  # None for a bare task name

    def __str__(self) -> str:
        return self.text

    def tasks(self) -> set[str]:
        """Return the names of the tasks this expression reads."""
        if self.op == "ref":
            return {self.task}
        return set().union(*(operand.tasks() for operand in self.operands))

    def failure_handled_tasks(self) -> set[str]:
        """Return the tasks whose failure this expression handles, as Argo counts it.

        Only a reference that names a failure result (`A.Failed`, `A.Errored`,
        `A.AllFailed`) or `A.AnySucceeded` handles A's failure; a bare `A` or
        `A.Succeeded` does not, so a failed A still fails the DAG.
        """
        if self.op == "ref":
            handling = ("Failed", "Errored", "AllFailed", "AnySucceeded")
            return {self.task} if self.result in handling else set()
        return set().union(*(operand.failure_handled_tasks() for operand in self.operands))

    def evaluate(
        self,
        phases: Mapping[str, str],
        *,
        all_children: Mapping[str, Sequence[str]] | None = None,
        continued: Mapping[str, Iterable[str]] | None = None,
    ) -> bool:
        """Evaluate against finished tasks' phases (Argo's: Succeeded, Failed, Error, ...).

        `all_children` gives the phases of each loop task's children, for AnySucceeded
        and AllFailed. A task missing there counts as its own single child. `continued`
        maps a task to the phases (Failed, Error) that its `continueOn` allows, which a
        bare reference to that task also accepts. Daemoned is never true, because deployer
        runs no daemon steps. Raises WorkflowError for a task with no phase yet.
        """
        if self.op == "!":
            return not self.operands[0].evaluate(
                phases, all_children=all_children, continued=continued
            )
        if self.op in ("&&", "||"):
            results = (
                operand.evaluate(phases, all_children=all_children, continued=continued)
                for operand in self.operands
            )
            return all(results) if self.op == "&&" else any(results)
        if self.task not in phases:
            raise WorkflowError(f"depends {self.text!r}: task {self.task} has not finished yet")
        phase = phases[self.task]
        if self.result is None:
            return phase in ("Succeeded", "Skipped") or phase in (continued or {}).get(
                self.task, ()
            )
        if self.result in ("AnySucceeded", "AllFailed"):
            children = (all_children or {}).get(self.task, [phase])
            if self.result == "AnySucceeded":
                return any(child == "Succeeded" for child in children)
            return bool(children) and all(child == "Failed" for child in children)
        return phase == _PHASE_OF_RESULT.get(self.result)


class _DependsParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.index = 0

    def _tokenize(self, text: str) -> list[tuple[str, str, str | None]]:
        tokens: list[tuple[str, str, str | None]] = []
        position = 0
        while text[position:].strip():
            match = _DEPENDS_TOKEN.match(text, position)
            if match is None:
                column = len(text) - len(text[position:].lstrip()) + 1
                raise self.error(f"unexpected text at column {column}")
            op, name, result = match.groups()
            if op:
                tokens.append(("op", op, None))
            else:
                if result is not None and result not in DEPENDS_RESULTS:
                    known = ", ".join(sorted(DEPENDS_RESULTS))
                    raise self.error(f"unknown result {name}.{result}; use one of {known}")
                tokens.append(("ref", name, result))
            position = match.end()
        tokens.append(("end", "", None))
        return tokens

    def error(self, reason: str) -> WorkflowError:
        return WorkflowError(f"invalid depends expression {self.text!r}: {reason}")

    def parse(self) -> DependsExpr:
        if self.tokens[0][0] == "end":
            raise self.error("the expression is empty")
        node = self.logical("||")
        if self.tokens[self.index][0] != "end":
            raise self.error(f"unexpected {self.tokens[self.index][1]!r}")
        return node

    def logical(self, op: str) -> DependsExpr:
        node = self.logical("&&") if op == "||" else self.unary()
        while self.tokens[self.index][:2] == ("op", op):
            self.index += 1
            right = self.logical("&&") if op == "||" else self.unary()
            node = DependsExpr(self.text, op, (node, right))
        return node

    def unary(self) -> DependsExpr:
        kind, value, result = self.tokens[self.index]
        self.index += 1
        if (kind, value) == ("op", "!"):
            return DependsExpr(self.text, "!", (self.unary(),))
        if (kind, value) == ("op", "("):
            node = self.logical("||")
            if self.tokens[self.index][:2] != ("op", ")"):
                raise self.error("missing ')'")
            self.index += 1
            return node
        if kind == "ref":
            return DependsExpr(self.text, "ref", task=value, result=result)
        raise self.error(f"expected a task name, found {value or 'the end'!r}")


def parse_depends(text: str) -> DependsExpr:
    """Parse a `depends` expression; raise WorkflowError showing it when it is invalid."""
    return _DependsParser(text).parse()


def depends_from_dependencies(names: Iterable[str]) -> DependsExpr:
    """Build the expression that a `dependencies: [A, B]` list means: `A && B`."""
    names = list(names)
    if not names:
        raise WorkflowError("dependencies is empty; omit it for a task with no dependencies")
    return parse_depends(" && ".join(names))
