"""Masking of secret values in run records: whole tokens are hidden, longer names are kept."""

# Workflow YAML in the tests keeps one step per line, which can pass 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.engine.workflow.masking import Masker
from deployer.engine.workflow.memory import MemoryRecordStore
from tests.unit.test_runner_scheduling import SAY, node, run, workflow, write


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("admin", "***"),
        ("pw=admin", "pw=***"),
        ('{"password": "admin"}', '{"password": "***"}'),
        ("user:admin@db", "user:***@db"),
        ("the password is admin.", "the password is ***."),
        ("first admin\nthen admin", "first ***\nthen ***"),
        ("Secret monitoring/grafana-admin", "Secret monitoring/grafana-admin"),
        ("admin-password", "admin-password"),
        ("admin.conf", "admin.conf"),
        ("sysadmin", "sysadmin"),
        ("admin_user", "admin_user"),
        ("web.admin", "web.admin"),
    ],
)
def test_masker_hides_only_whole_tokens(text: str, masked: str) -> None:
    masker = Masker()
    masker.add("admin")
    assert masker.mask(text) == masked


def test_masker_hides_values_with_symbols_and_json_escapes() -> None:
    masker = Masker()
    masker.add("p@ss!")
    masker.add('say "hi"')
    assert masker.mask("p@ss!x") == "***x"
    assert masker.mask("--password=p@ss!") == "--password=***"
    assert masker.mask('say "hi"') == "***"
    assert masker.mask(json.dumps({"v": 'say "hi"'})) == '{"v": "***"}'


def test_masker_prefers_the_longer_value() -> None:
    masker = Masker()
    masker.add("admin")
    masker.add("admin pass")
    assert masker.mask("admin pass") == "***"
    assert masker.mask("admin") == "***"


def test_masker_ignores_values_shorter_than_three() -> None:
    masker = Masker()
    masker.add("ab")
    assert masker.mask("ab cd") == "ab cd"


def test_run_record_keeps_names_containing_a_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            arguments:
              parameters: [{name: admin-password, value: admin}]
            """,
            """
              - name: main
                steps:
                - - {name: grafana-admin, template: say, arguments: {parameters: [{name: msg, value: "user=admin pw={{workflow.parameters.admin-password}}"}]}}
            """,
            SAY,
        ),
    )
    store = MemoryRecordStore()
    record, _ = run(path, store=store, run_name="monitoring-0urch")
    assert record.phase == "Succeeded"
    stored = store.records["monitoring-0urch"]
    assert stored["parameters"]["admin-password"] == "***"
    names = {item["displayName"] for item in stored["nodes"].values()}
    assert "grafana-admin" in names
    step = next(i for i in stored["nodes"].values() if i["displayName"] == "grafana-admin")
    assert step["result"] == "user=*** pw=***"
    assert node(record, "grafana-admin").template == "say"


def test_listeners_see_nodes_masked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        workflow(
            """
            entrypoint: main
            arguments:
              parameters: [{name: db-password, value: hunter2}]
            """,
            """
              - name: main
                steps:
                - - {name: show, template: say, arguments: {parameters: [{name: msg, value: "pw={{workflow.parameters.db-password}}"}]}}
            """,
            SAY,
        ),
    )
    seen: list[str] = []
    record, _ = run(path, listeners=[lambda changed: seen.append(json.dumps(changed.to_dict()))])
    assert record.phase == "Succeeded"
    assert any("pw=***" in text for text in seen)
    assert not any("hunter2" in text for text in seen)
