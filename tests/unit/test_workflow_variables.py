"""`{{...}}` substitution and loop expansion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deployer.engine.workflow.variables import (
    Scope,
    expand_items,
    item_text,
    placeholders,
    substitute,
    substitute_value,
)
from deployer.errors import WorkflowError
from deployer.model.workflow import Step, WithSequence

SCOPE = Scope(
    {
        "inputs.parameters.my-param": "mine",
        "steps.step-a.outputs.result": "from a",
        "tasks.task-b.outputs.parameters.out-x": "from b",
        "workflow.name": "hello-x7k2p",
        "workflow.namespace": "demo",
        "workflow.parameters.X": "big",
        "workflow.status": "Failed",
        "workflow.failures": "[]",
        "retries": "2",
        "pod.name": "hello-x7k2p-123",
        "node.name": "hello.step-a",
        "inputs.parameters.n": "4",
        "inputs.parameters.list": '["a","b"]',
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{inputs.parameters.my-param}}", "mine"),
        ("{{steps.step-a.outputs.result}}", "from a"),
        ("{{tasks.task-b.outputs.parameters.out-x}}", "from b"),
        ("{{workflow.name}}/{{workflow.namespace}}", "hello-x7k2p/demo"),
        ("{{workflow.parameters.X}}", "big"),
        ("{{workflow.status}} {{workflow.failures}}", "Failed []"),
        ("try {{retries}}", "try 2"),
        ("{{pod.name}} {{node.name}}", "hello-x7k2p-123 hello.step-a"),
        ("{{ inputs.parameters.my-param }}", "mine"),
        ("no placeholders", "no placeholders"),
        ("{{=asInt(inputs.parameters.n) * 2}}", "8"),
        ("{{=inputs.parameters['my-param'] + '-1'}}", "mine-1"),
        ("{{=asInt(retries) < 3 ? 'again' : 'done'}}", "again"),
        ("{{=fromJson(inputs.parameters.list)}}", '["a","b"]'),
        ("a{{steps.step-a.outputs.result}}b{{workflow.parameters.X}}c", "afrom abbigc"),
    ],
)
def test_substitute_replaces_placeholders(text: str, expected: str) -> None:
    assert substitute(text, SCOPE) == expected


def test_substitute_does_not_rescan_values() -> None:
    scope = Scope({"a": "{{b}}", "b": "no"})

    assert substitute("{{a}}", scope) == "{{b}}"


@pytest.mark.parametrize(
    "text",
    [
        "{{inputs.parameters.nope}}",
        "x {{steps.missing.outputs.result}}",
        "{{workflow.parameters.y}}",
    ],
)
def test_substitute_names_undefined_variable(text: str) -> None:
    name = text[text.index("{{") : text.index("}}") + 2]

    with pytest.raises(WorkflowError, match="undefined variable") as caught:
        substitute(text, SCOPE)

    assert name in str(caught.value)


def test_substitute_can_keep_unknown_placeholders() -> None:
    text = "{{workflow.name}} {{pod.later}}"

    assert substitute(text, SCOPE, keep_unknown=True) == "hello-x7k2p {{pod.later}}"


def test_substitute_value_walks_structures() -> None:
    body = {
        "image": "busybox",
        "args": ["{{inputs.parameters.my-param}}", 3, True],
        "env": [{"name": "{{workflow.parameters.X}}", "value": "{{retries}}"}],
        "labels": {"{{workflow.namespace}}": None},
    }

    result = substitute_value(body, SCOPE)

    assert result == {
        "image": "busybox",
        "args": ["mine", 3, True],
        "env": [{"name": "big", "value": "2"}],
        "labels": {"demo": None},
    }


def test_placeholders_are_listed_stripped() -> None:
    assert placeholders("{{ a }} and {{=b + 1}} and {{c-d.e}}") == ["a", "=b + 1", "c-d.e"]


def test_item_fields_resolve() -> None:
    scope = SCOPE.with_item({"name": "x", "size": 2, "tags": ["a"], "meta": {"k": "v"}})

    assert substitute("{{item.name}}:{{item.size}}", scope) == "x:2"
    assert substitute("{{item.tags}} {{item.meta.k}}", scope) == '["a"] v'
    assert substitute("{{item}}", scope) == '{"name":"x","size":2,"tags":["a"],"meta":{"k":"v"}}'
    with pytest.raises(WorkflowError, match=r"\{\{item.nope\}\}"):
        substitute("{{item.nope}}", scope)


def test_item_outside_a_loop_is_undefined() -> None:
    with pytest.raises(WorkflowError, match=r"undefined variable \{\{item\}\}"):
        substitute("{{item}}", SCOPE)


def loop(**fields: Any) -> Step:
    return Step(name="each", template="leaf", **fields)


def test_with_items_over_scalars() -> None:
    items = expand_items(loop(with_items=["a", 1, 2.5, True, None]), SCOPE)

    assert [item.index for item in items] == [0, 1, 2, 3, 4]
    assert [item_text(item.value) for item in items] == ["a", "1", "2.5", "true", "null"]
    assert [item.child_name("each") for item in items] == [
        "each(0:a)",
        "each(1:1)",
        "each(2:2.5)",
        "each(3:true)",
        "each(4:null)",
    ]


def test_with_items_over_maps() -> None:
    items = expand_items(loop(with_items=[{"os": "linux", "arch": "amd64"}, {"os": "mac"}]), SCOPE)

    assert [item.child_name("each") for item in items] == [
        "each(0:os:linux,arch:amd64)",
        "each(1:os:mac)",
    ]
    scope = SCOPE.with_item(items[0].value)
    assert substitute("{{item.os}}-{{item.arch}}", scope) == "linux-amd64"
    assert substitute("{{item}}", scope) == '{"os":"linux","arch":"amd64"}'


@pytest.mark.parametrize(
    "value",
    [
        "it's",
        'say "hi"',
        "' || true || '",
        '{"a": [1, 2]}',
        "[1,2]",
        "  padded  ",
        "{{not a placeholder",
        "ünïcode",
    ],
)
def test_with_items_value_arrives_exactly(value: str) -> None:
    (item,) = expand_items(loop(with_items=[value]), SCOPE)

    assert substitute("{{item}}", SCOPE.with_item(item.value)) == value
    assert item.child_name("each") == f"each(0:{value})"


def test_with_items_resolves_placeholders_inside_items() -> None:
    items = expand_items(
        loop(with_items=["{{workflow.parameters.X}}", {"k": "{{retries}}"}]), SCOPE
    )

    assert [item.value for item in items] == ["big", {"k": "2"}]


def test_with_param_reads_a_json_list() -> None:
    scope = SCOPE.with_values({"steps.gen.outputs.result": '["x", 2, {"a": "b"}, "q\\"uote"]'})

    items = expand_items(loop(with_param="{{steps.gen.outputs.result}}"), scope)

    assert [item.value for item in items] == ["x", 2, {"a": "b"}, 'q"uote']
    assert [item_text(item.value) for item in items] == ["x", "2", '{"a":"b"}', 'q"uote']
    assert items[2].child_name("each") == "each(2:a:b)"


def test_with_param_empty_list_has_no_children() -> None:
    scope = SCOPE.with_values({"steps.gen.outputs.result": "[]"})

    assert expand_items(loop(with_param="{{steps.gen.outputs.result}}"), scope) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "got a mapping"),
        ("not json", "must be a JSON list"),
        ('"text"', "got a string"),
    ],
)
def test_with_param_non_list_names_the_step(text: str, message: str) -> None:
    scope = SCOPE.with_values({"steps.gen.outputs.result": text})

    with pytest.raises(WorkflowError, match=f"step each: withParam .*{message}"):
        expand_items(loop(with_param="{{steps.gen.outputs.result}}"), scope)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        (WithSequence(count="3"), ["0", "1", "2"]),
        (WithSequence(count="2", start="5"), ["5", "6"]),
        (WithSequence(start="1", end="3"), ["1", "2", "3"]),
        (WithSequence(start="3", end="1"), ["3", "2", "1"]),
        (WithSequence(count="0"), []),
        (WithSequence(start="1", end="2", format="node-%02d"), ["node-01", "node-02"]),
        (WithSequence(count="{{inputs.parameters.n}}"), ["0", "1", "2", "3"]),
    ],
)
def test_with_sequence_counts(sequence: WithSequence, expected: list[str]) -> None:
    items = expand_items(loop(with_sequence=sequence), SCOPE)

    assert [item.value for item in items] == expected
    assert [item.child_name("each") for item in items] == [
        f"each({i}:{v})" for i, v in enumerate(expected)
    ]


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        (WithSequence(count="many"), "withSequence.count must be an integer, got 'many'"),
        (WithSequence(count="-1"), "must not be negative"),
        (WithSequence(start="1"), "needs count or end"),
        (WithSequence(count="1", format="%s-%s"), "not a printf format"),
    ],
)
def test_with_sequence_rejects_bad_bounds(sequence: WithSequence, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        expand_items(loop(with_sequence=sequence), SCOPE)


def test_step_without_loop_has_no_items() -> None:
    assert expand_items(loop(), SCOPE) == []


def test_item_text_uses_compact_json_in_written_order() -> None:
    value = {"b": 1, "a": [True, None, "x"]}

    assert item_text(value) == '{"b":1,"a":[true,null,"x"]}'
    assert json.loads(item_text(value)) == value


def test_with_param_numbers_keep_their_text() -> None:
    scope = SCOPE.with_values({"steps.gen.outputs.result": "[1.0, 2.50, 1e3, 7]"})

    items = expand_items(loop(with_param="{{steps.gen.outputs.result}}"), scope)

    assert [item_text(item.value) for item in items] == ["1.0", "2.50", "1e3", "7"]
    assert items[0].child_name("each") == "each(0:1.0)"
