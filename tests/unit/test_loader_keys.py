"""Keys that YAML 1.1 reads as booleans, numbers or null in string maps, named as written."""

from __future__ import annotations

from deployer.errors import Problem
from deployer.plan import static_problems
from deployer.sources import load_text


def problems_in(text: str) -> list[Problem]:
    return static_problems(load_text(text, file="a.yaml"))


def test_on_key_is_named_as_written_with_line() -> None:
    problems = problems_in(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata:\n  mode: fast\n"
        "  on: 'yes'\n"
    )
    assert len(problems) == 1, problems
    assert problems[0].path == "data.on (line 6)"
    assert problems[0].message == 'the key on is read as the boolean true; quote it: "on"'


def test_on_key_with_boolean_value_gives_two_problems() -> None:
    problems = problems_in(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata:\n  on: yes\n"
    )
    assert [problem.path for problem in problems] == ["data.on (line 5)", "data.on (line 5)"]
    assert problems[0].message == 'the key on is read as the boolean true; quote it: "on"'
    assert problems[1].message == 'must be a string, got boolean true; quote it: "yes"'
    assert not any("True" in str(problem) for problem in problems)


def test_octal_and_null_label_keys_are_flagged() -> None:
    problems = problems_in(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    0644: a\n    ~: b\n"
    )
    assert [problem.path for problem in problems] == [
        "metadata.labels.0644 (line 6)",
        "metadata.labels.~ (line 7)",
    ]
    assert problems[0].message == 'the key 0644 is read as the number 420; quote it: "0644"'
    assert problems[1].message == 'the key ~ is read as null; quote it: "~"'


def test_keys_sent_as_written_pass() -> None:
    # `80` and `true` reach the server as the text in the file.
    problems = problems_in(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  80: a\n  true: b\n"
    )
    assert problems == []


def test_key_line_after_loop_is_template_line() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
        "{% for name in names %}\n  {{ name }}: x\n{% endfor %}\n  off: y\n"
    )
    manifests = load_text(text, file="a.yaml", parameters={"names": ["a", "b"]})
    problems = static_problems(manifests)
    assert [problem.path for problem in problems] == ["data.off (line 8)"]


def test_key_in_list_item_names_its_line() -> None:
    problems = problems_in(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
        "  metadata: {name: c}\n  data:\n    yes: a\n"
    )
    assert [problem.path for problem in problems] == ["data.yes (line 8)"]
