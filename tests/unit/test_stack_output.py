"""Output of the stack commands when stdout is not a terminal, as in CI logs and pipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deployer.cli.stack_cmds import catalog_command, ready_cell
from deployer.cli.stack_view import print_summary
from deployer.engine.stack_run import TaskStatus

REPO = Path(__file__).resolve().parents[2]
LONG_RUN = "sock-shop-persist-workflow-with-a-long-name-x7k2q"


def summary_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "workflow": "sock-shop-persist-workflow.yaml",
        "run": LONG_RUN,
        "phase": "Succeeded",
        "waves": 4,
        "tasks": 12,
        "tasks_done": 12,
        "objects": 40,
        "seconds": 5.9,
        "not_ready": [],
    }
    row.update(changes)
    return row


def test_summary_keeps_run_name_whole(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary([summary_row()], seconds=5.9)
    lines = capsys.readouterr().out.splitlines()
    assert any(LONG_RUN in line for line in lines), lines
    assert any("sock-shop-persist-workflow.yaml" in line for line in lines), lines


def test_catalog_keeps_descriptions_whole() -> None:
    done = CliRunner().invoke(
        catalog_command,
        ["--stacks-dir", str(REPO / "stacks"), "--workflows-dir", str(REPO / "workflows")],
    )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    description = "Password of Grafana's admin user; demo default, override it outside a laptop."
    assert any(description in line for line in lines), done.output
    assert not any("…" in line for line in lines), done.output


def test_ready_cell_all_ready() -> None:
    task = TaskStatus(workflow="w.yaml", task="app", kind="manifests", objects=3)
    assert ready_cell(task) == "yes"


def test_ready_cell_not_deployed() -> None:
    task = TaskStatus(workflow="w.yaml", task="app", kind="manifests", deployed=False)
    task.not_ready.append("w.yaml task app: not deployed")
    assert ready_cell(task) == "no: not deployed"


def test_ready_cell_counts_unready_objects() -> None:
    task = TaskStatus(workflow="w.yaml", task="app", kind="manifests", objects=3)
    task.not_ready.append("Deployment shop/app: 0/1 replicas available")
    assert ready_cell(task) == "no: 1 of 3 object(s) not ready"
