"""Names, reasons and messages reach the terminal views as plain text, never as rich markup.

Rich reads `[web]` in a plain string as a style tag and drops it, and a stray closing
tag such as `[/]` raises MarkupError. Cluster and user text contains both.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console, RenderableType

from deployer.cli.object_table import ObjectTable
from deployer.cli.progress import LiveView
from deployer.cli.stack_cmds import catalog_command
from deployer.cli.stack_view import LiveTasks, print_summary
from deployer.cli.workflow_view import rich_tree
from deployer.model.events import ObjectEvent
from deployer.model.objects import ObjectRef
from deployer.model.run import FAILED, NodeRecord, RunRecord
from deployer.model.status import State

# A bracketed word rich would take for a style, a closing tag with nothing open, and a
# pair of tags rich would apply.
REASON = "[web]"
MESSAGE = "pod crashed: [/] unexpected; retry [bold]later[/bold]"


def rendered(renderable: RenderableType) -> str:
    """Print `renderable` to a wide console without colours and return the output."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, color_system=None, highlight=False)
    console.print(renderable)
    return buffer.getvalue()


def failed_event(step: str | None = None) -> ObjectEvent:
    ref = ObjectRef("apps", "Deployment", "shop", "web")
    return ObjectEvent(ref, State.FAILED, reason=REASON, message=MESSAGE, wave=0, step=step)


def test_live_view_keeps_brackets() -> None:
    view = LiveView(Console(file=io.StringIO()))
    view(failed_event())
    output = rendered(view.live.renderable)
    assert REASON in output
    assert MESSAGE in output
    assert "Failed" in output


def test_live_view_state_keeps_style() -> None:
    view = LiveView(Console(file=io.StringIO()))
    view(failed_event())
    buffer = io.StringIO()
    Console(file=buffer, width=400, color_system="standard", force_terminal=True).print(
        view.live.renderable
    )
    # bold red, as STATE_STYLES gives for Failed
    assert "\x1b[1;31mFailed" in buffer.getvalue()


def test_object_table_keeps_brackets() -> None:
    table = ObjectTable()
    table(failed_event(step="shop-run.deploy(0:[web])"))
    output = rendered(table.render())
    assert REASON in output
    assert MESSAGE in output
    assert "deploy(0:[web])" in output


def test_live_tasks_keep_brackets() -> None:
    tasks = LiveTasks()
    node = NodeRecord(
        id="n1",
        name="shop-run.deploy(0:[web])",
        display_name="deploy(0:[web])",
        type="Manifests",
        phase=FAILED,
        message=MESSAGE,
    )
    tasks(node)
    tasks.on_object(failed_event(step="shop-run.deploy(0:[web])"))
    output = rendered(tasks.live.renderable)
    assert "deploy(0:[web])" in output
    assert output.count(MESSAGE) == 2
    assert REASON in output


def test_summary_keeps_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "workflow": "[shop]",
        "run": "shop-x1",
        "phase": FAILED,
        "waves": 1,
        "tasks": 2,
        "tasks_done": 1,
        "objects": 3,
        "seconds": 1.5,
        "not_ready": [f"Deployment shop/web: {MESSAGE}"],
    }
    print_summary([row], seconds=2.0)
    output = capsys.readouterr().out
    assert "[shop]" in output
    assert f"not ready: Deployment shop/web: {MESSAGE}" in output


def test_run_tree_keeps_brackets() -> None:
    node = NodeRecord(
        id="n1", name="r.deploy", display_name="deploy", type="Manifests", message=MESSAGE
    )
    run = RunRecord(
        name="r", namespace="shop", workflow={}, message=REASON, root="n1", nodes={"n1": node}
    )
    output = rendered(rich_tree(run))
    assert REASON in output
    assert MESSAGE in output


CATALOG_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: shop-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: tier
      value: "[web]"
      description: "pick [/] a tier"
  templates:
  - name: main
    suspend: {}
"""


def test_catalog_keeps_brackets(tmp_path: Path) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "shop.yaml").write_text(CATALOG_WORKFLOW)
    args = ["--workflows-dir", str(workflows), "--stacks-dir", str(tmp_path / "none")]
    result = CliRunner().invoke(catalog_command, args)
    assert result.exit_code == 0, result.output
    assert "[web]" in result.output
    assert "pick [/] a tier" in result.output
