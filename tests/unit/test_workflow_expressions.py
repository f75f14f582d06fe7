"""The `when`, `depends` and `{{=...}}` expression languages."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from deployer.engine.workflow.expr_lang import (
    evaluate_expression,
    expression_text,
    expression_variables,
    jsonpath,
)
from deployer.engine.workflow.expressions import (
    depends_from_dependencies,
    evaluate_when,
    parse_depends,
    when_placeholders,
)
from deployer.errors import WorkflowError

VALUES = {
    "steps.flip.outputs.result": "heads",
    "steps.count.outputs.result": "10",
    "steps.tag.outputs.result": "2021-01-01-rc",
    "inputs.parameters.my-param": "a b",
    "inputs.parameters.n": "3",
    "inputs.parameters.tricky": "' || true || '",
    "inputs.parameters.quote": 'say "hi"',
    "inputs.parameters.list": '["a", "b"]',
    "inputs.parameters.doc": '{"items": [{"name": "x"}, {"name": "y"}], "size": 2}',
    "item": "blue",
    "retries": "1",
    "workflow.status": "Failed",
    "flag": "true",
}


def resolve(name: str) -> str:
    return VALUES[name]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"2021-01-01-rc" != 2021-01-01', True),
        ("{{steps.tag.outputs.result}} != 2021-01-01", True),
        ("{{steps.tag.outputs.result}} == 2021-01-01-rc", True),
        ('"10" > "9"', True),
        ("{{steps.count.outputs.result}} > 9", True),
        ("{{steps.count.outputs.result}} < 9", False),
        ("10 == 10.0", True),
        ('"abc" == abc', True),
        ("'abc' == \"abc\"", True),
        ("abc < abd", True),
        ("b > a10", True),
        ("{{steps.flip.outputs.result}} == heads", True),
        ("{{steps.flip.outputs.result}} == tails", False),
        ('"{{steps.flip.outputs.result}}" == "heads"', True),
        ("{{ steps.flip.outputs.result }} == heads", True),
        ("{{inputs.parameters.my-param}} == 'a b'", True),
        ("{{steps.flip.outputs.result}}-x == heads-x", True),
        ("{{steps.flip.outputs.result}} =~ '^h.a'", True),
        ("{{steps.flip.outputs.result}} !~ '^t'", True),
        ("{{steps.flip.outputs.result}} == heads && {{steps.count.outputs.result}} >= 10", True),
        ("{{steps.flip.outputs.result}} == tails || {{item}} == blue", True),
        ("!({{steps.flip.outputs.result}} == tails)", True),
        ("!true", False),
        ("true && (false || true)", True),
        ("{{flag}}", True),
        ("{{workflow.status}} != Succeeded", True),
        ("{{=asInt(inputs.parameters.n) > 2}}", True),
        ("{{=asInt(inputs.parameters.n) > 2}} && {{item}} == red", False),
    ],
)
def test_when_expression_evaluates(expression: str, expected: bool) -> None:
    assert evaluate_when(expression, resolve) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "{{inputs.parameters.tricky}} == x",
        "'{{inputs.parameters.tricky}}' == x",
        '"{{inputs.parameters.tricky}}" == x',
        "{{inputs.parameters.quote}} == x",
    ],
)
def test_when_value_cannot_change_the_expression(expression: str) -> None:
    assert evaluate_when(expression, resolve) is False


def test_when_value_with_operators_compares_whole() -> None:
    assert evaluate_when("{{inputs.parameters.tricky}} == \"' || true || '\"", resolve) is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "the expression is empty"),
        ("a ==", "expected a value at the end"),
        ("(a == b", "missing"),
        ("a == b)", "unexpected token"),
        ("a = b", "unexpected '='"),
        ("a == 'b", "unclosed ' string"),
        ("{{steps.flip.outputs.result", "unclosed '{{'"),
        ("heads", "'heads' is not true or false"),
        ("{{steps.flip.outputs.result}}", "'heads' is not true or false"),
        (
            "{{steps.nope.outputs.result}} == x",
            r"undefined variable \{\{steps.nope.outputs.result\}\}",
        ),
        ("a =~ '('", "invalid regular expression"),
        ("{{=1 +}} == 1", "invalid expression"),
    ],
)
def test_invalid_when_expression_is_rejected(expression: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message) as caught:
        evaluate_when(expression, resolve)

    assert repr(expression) in str(caught.value) or "invalid expression" in str(caught.value)


def test_when_placeholders_are_listed() -> None:
    found = when_placeholders("{{a.b}} == x && '{{ c-d }}' != {{=asInt(e)}}")

    assert found == ["a.b", "c-d", "=asInt(e)"]


PHASES: Mapping[str, str] = {
    "ok": "Succeeded",
    "bad": "Failed",
    "err": "Error",
    "skip": "Skipped",
    "omit": "Omitted",
    "loop": "Failed",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok", True),
        ("skip", True),
        ("bad", False),
        ("err", False),
        ("omit", False),
        ("ok.Succeeded", True),
        ("skip.Succeeded", False),
        ("bad.Failed", True),
        ("err.Errored", True),
        ("err.Failed", False),
        ("skip.Skipped", True),
        ("omit.Omitted", True),
        ("ok.Daemoned", False),
        ("ok && bad", False),
        ("ok || bad", True),
        ("ok && !bad", True),
        ("!(ok && bad)", True),
        ("(bad.Failed || err.Errored) && ok.Succeeded", True),
        ("ok.Succeeded || bad.Succeeded && err.Succeeded", True),
        ("loop.AnySucceeded", True),
        ("loop.AllFailed", False),
        ("bad.AllFailed", True),
        ("bad.AnySucceeded", False),
    ],
)
def test_depends_expression_evaluates(text: str, expected: bool) -> None:
    children = {"loop": ["Failed", "Succeeded"]}

    assert parse_depends(text).evaluate(PHASES, all_children=children) is expected


def test_depends_lists_its_tasks() -> None:
    expression = parse_depends("(task-a.Succeeded || task-b.Failed) && !task-c")

    assert expression.tasks() == {"task-a", "task-b", "task-c"}
    assert str(expression) == "(task-a.Succeeded || task-b.Failed) && !task-c"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the expression is empty"),
        ("a &&", "expected a task name"),
        ("a b", "unexpected 'b'"),
        ("(a || b", "missing"),
        ("a.Finished", "unknown result a.Finished"),
        ("a & b", "unexpected text"),
        ("a == b", "unexpected text"),
    ],
)
def test_invalid_depends_expression_is_rejected(text: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        parse_depends(text)


def test_depends_on_unfinished_task_is_an_error() -> None:
    with pytest.raises(WorkflowError, match="task later has not finished"):
        parse_depends("ok && later").evaluate(PHASES)


def test_dependencies_list_means_all_succeeded() -> None:
    expression = depends_from_dependencies(["ok", "skip"])

    assert expression.tasks() == {"ok", "skip"}
    assert expression.evaluate(PHASES) is True
    assert depends_from_dependencies(["ok", "bad"]).evaluate(PHASES) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bad", True),
        ("err", False),
        ("bad.Succeeded", False),
        ("!bad", False),
        ("ok && bad", True),
    ],
)
def test_bare_depends_accepts_continued_phase(text: str, expected: bool) -> None:
    continued = {"bad": frozenset({"Failed"})}

    assert parse_depends(text).evaluate(PHASES, continued=continued) is expected


def test_dependencies_list_accepts_continued_phase() -> None:
    continued = {"bad": frozenset({"Failed"}), "err": frozenset({"Error"})}

    assert depends_from_dependencies(["ok", "bad", "err"]).evaluate(PHASES, continued=continued)
    assert not depends_from_dependencies(["bad", "err"]).evaluate(
        PHASES, continued={"bad": frozenset({"Error"}), "err": frozenset({"Failed"})}
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 % 3", 1),
        ("1 / 2", 0.5),
        ("-asInt(inputs.parameters.n)", -3),
        ("asInt(inputs.parameters.n) + 1", 4),
        ("asFloat(inputs.parameters.n) / 2", 1.5),
        ("inputs.parameters['my-param'] + '!'", "a b!"),
        ("inputs.parameters.n == '3'", True),
        ("inputs.parameters.n == 3", False),
        ("asInt(inputs.parameters.n) >= 3 && true", True),
        ("not false and 1 < 2", True),
        ("asInt(retries) < 2 ? 'fail' : 'pass'", "fail"),
        ("asInt(retries) > 2 ? 'fail' : 'pass'", "pass"),
        ("string(asInt(inputs.parameters.n) * 2)", "6"),
        ("toJson(['a', 1, true])", '["a",1,true]'),
        ("fromJson(inputs.parameters.list)[1]", "b"),
        ("jsonpath(inputs.parameters.doc, '$.items[1].name')", "y"),
        ("jsonpath(inputs.parameters.doc, '$.items[*].name')", ["x", "y"]),
        ("jsonpath(inputs.parameters.doc, \"$['size']\")", 2),
        ("len(fromJson(inputs.parameters.list))", 2),
        ("'b' in fromJson(inputs.parameters.list)", True),
        ("upper(item) + lower('X')", "BLUEx"),
        ("trim('  x ')", "x"),
        ("'a\\'b'", "a'b"),
        ("[1, 2][0]", 1),
        ("nil == nil", True),
    ],
)
def test_expr_evaluates(expression: str, expected: object) -> None:
    assert evaluate_expression(expression, resolve) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("sprig.trim(item)", "not supported: sprig functions"),
        ("inputs.parameters.n + 1", "convert them with asInt"),
        ("inputs.parameters.missing", "undefined variable inputs.parameters.missing"),
        ("unknownFn(1)", "unknown function unknownFn"),
        ("asInt('x')", r"asInt\(\) failed"),
        ("1 / 0", "division by zero"),
        ("1 +", "invalid expression"),
        ("true ? 1", "expected ':'"),
        ("'a' && true", "needs true or false"),
        ("asInt", "is a function"),
        ("1 @ 2", "unexpected character"),
    ],
)
def test_invalid_expr_is_rejected(expression: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        evaluate_expression(expression, resolve)


def test_expr_lists_dotted_variables() -> None:
    names = expression_variables(
        "asInt(inputs.parameters['a-b']) + steps.x.outputs.result ? item : 1"
    )

    assert names == {"inputs.parameters.a-b", "steps.x.outputs.result", "item"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (None, ""),
        (2.0, "2"),
        (2.5, "2.5"),
        ([1, "a"], '[1,"a"]'),
        ({"a": 1}, '{"a":1}'),
        ("x", "x"),
        (7, "7"),
    ],
)
def test_expr_result_renders_as_text(value: object, text: str) -> None:
    assert expression_text(value) == text


def test_jsonpath_rejects_unknown_syntax() -> None:
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        jsonpath({"a": 1}, "$..a")


def test_when_error_points_at_the_extra_token() -> None:
    with pytest.raises(WorkflowError, match="unexpected token at column 8"):
        evaluate_when("a == b c", resolve)


@pytest.mark.parametrize(
    ("expression", "number", "text"),
    [
        ("{{steps.count.outputs.result}} > abc", "10", "abc"),
        ("abc < 9", "9", "abc"),
        ("'10' >= {{steps.flip.outputs.result}}", "10", "heads"),
        ("5 <= ''", "5", ""),
        ("{{steps.count.outputs.result}} > {{steps.tag.outputs.result}}", "10", "2021-01-01-rc"),
    ],
)
def test_when_number_against_text_is_rejected(expression: str, number: str, text: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        evaluate_when(expression, resolve)

    message = str(caught.value)
    assert repr(expression) in message
    assert f"cannot order the number {number} and the text {text!r}" in message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{steps.count.outputs.result}} == abc", False),
        ("{{steps.count.outputs.result}} != abc", True),
        ("{{steps.count.outputs.result}} =~ '^1'", True),
        ("{{steps.count.outputs.result}} !~ 'x'", True),
        ("2021-01-01-rc > 2021-01-01", True),
        ("10 >= 9.5", True),
    ],
)
def test_when_mixed_equality_compares_text(expression: str, expected: bool) -> None:
    assert evaluate_when(expression, resolve) is expected
