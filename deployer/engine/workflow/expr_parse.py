"""Tokenizer and parser for the expr-lang subset described in expr_lang."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deployer.errors import WorkflowError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:()\[\].,])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_KEYWORD_OPS = {"and": "&&", "or": "||", "not": "!"}
_BINARY_PRECEDENCE = {
    "||": 2,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op" or "end"
    text: str
    column: int


@dataclass(frozen=True)
class Node:
    """A node of a parsed expression: `op` names its kind, `args` contains its parts."""

    op: str  # "lit", "var", "index", "call", "array", "unary", "binary", "ternary"
    args: tuple[Any, ...]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _error(text, f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value in _KEYWORD_OPS:
            kind, value = "op", _KEYWORD_OPS[value]
        elif kind == "name" and value == "in":
            kind = "op"
        if kind != "space":
            tokens.append(_Token(kind, value, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _error(text: str, reason: str, column: int | None = None) -> WorkflowError:
    where = f" at column {column + 1}" if column is not None else ""
    return WorkflowError(f"invalid expression {text!r}: {reason}{where}")


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


class _Parser:
    """A precedence-climbing parser over the token list of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind == "string":
            raise _error(
                self.text, f"expected {text!r}, found {token.text or 'the end'!r}", token.column
            )

    def parse(self) -> Node:
        node = self.ternary()
        token = self.peek()
        if token.kind != "end":
            raise _error(self.text, f"unexpected {token.text!r}", token.column)
        return node

    def ternary(self) -> Node:
        condition = self.binary(1)
        if self.peek().kind == "op" and self.peek().text == "?":
            self.take()
            when_true = self.ternary()
            self.expect(":")
            when_false = self.ternary()
            return Node("ternary", (condition, when_true, when_false))
        return condition

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            precedence = _BINARY_PRECEDENCE.get(token.text) if token.kind == "op" else None
            if precedence is None or precedence < min_precedence:
                return left
            self.take()
            right = self.binary(precedence + 1)
            left = Node("binary", (token.text, left, right))

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in ("!", "-", "+"):
            self.take()
            return Node("unary", (token.text, self.unary()))
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            is_float = any(c in token.text for c in ".eE")
            return Node("lit", (float(token.text) if is_float else int(token.text),))
        if token.kind == "string":
            return Node("lit", (_unquote(token.text),))
        if token.kind == "name":
            constants = {"true": True, "false": False, "nil": None}
            if token.text in constants:
                return Node("lit", (constants[token.text],))
            return Node("var", (token.text,))
        if token.text == "(":
            node = self.ternary()
            self.expect(")")
            return node
        if token.text == "[":
            return Node("array", tuple(self.arguments("]")))
        raise _error(self.text, f"unexpected {token.text or 'end'!r}", token.column)

    def arguments(self, closing: str) -> list[Node]:
        items: list[Node] = []
        if self.peek().text == closing and self.peek().kind == "op":
            self.take()
            return items
        while True:
            items.append(self.ternary())
            token = self.take()
            if token.text == closing:
                return items
            if token.text != ",":
                raise _error(self.text, f"expected ',' or {closing!r}", token.column)

    def postfix(self, node: Node) -> Node:
        while self.peek().kind == "op" and self.peek().text in (".", "[", "("):
            token = self.take()
            if token.text == ".":
                name = self.take()
                if name.kind != "name":
                    raise _error(self.text, "expected a name after '.'", name.column)
                node = _member(node, Node("lit", (name.text,)))
            elif token.text == "[":
                key = self.ternary()
                self.expect("]")
                node = _member(node, key)
            else:
                if node.op != "var":
                    raise _error(self.text, "only named functions can be called", token.column)
                node = Node("call", (".".join(node.args), *self.arguments(")")))
        return node


def _member(base: Node, key: Node) -> Node:
    # A chain of constant keys stays one variable name, so it resolves as `a.b.c`.
    if base.op == "var" and key.op == "lit" and isinstance(key.args[0], str):
        return Node("var", (*base.args, key.args[0]))
    return Node("index", (base, key))


def parse_expression(text: str) -> Node:
    """Parse an expr-lang expression; raise WorkflowError showing it when it is invalid."""
    return _Parser(text).parse()
