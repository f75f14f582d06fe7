"""The runner passes object events of deployer-kind nodes on to RunOptions.progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.workflow.memory import MemoryExecutor
from deployer.model.events import ObjectEvent
from deployer.model.objects import ObjectRef
from deployer.model.status import State
from tests.unit.test_runner_scheduling import node, run, workflow, write

APP = ObjectRef("apps", "Deployment", "shop", "app")
PASSWORD = "hunter2-very-secret"

DEPLOY = workflow(
    """
    entrypoint: main
    arguments:
      parameters: [{name: db-password, value: placeholder}]
    """,
    """
      - name: main
        dag:
          tasks:
          - {name: app, template: app}
      - name: app
        manifests: {paths: [app]}
    """,
)


class Emitting(MemoryExecutor):
    """Reports two object events from every deployer-kind node, the last with a secret."""

    def run_kind(self, kind: str, spec: Any, ctx: TemplateContext) -> TemplateResult:
        ctx.progress(ObjectEvent(ref=APP, state=State.APPLIED, reason="Created", wave=0))
        ctx.progress(
            ObjectEvent(
                ref=APP,
                state=State.FAILED,
                reason="CrashLoopBackOff",
                message=f"container app exited; its log mentions {PASSWORD}",
                wave=0,
            )
        )
        return TemplateResult("Succeeded")


def test_object_events_reach_run_options(tmp_path: Path) -> None:
    events: list[ObjectEvent] = []
    path = write(tmp_path, DEPLOY)
    record, _ = run(path, executor=Emitting(), progress=events.append)
    assert record.phase == "Succeeded"
    assert [event.state for event in events] == [State.APPLIED, State.FAILED]
    assert [event.ref for event in events] == [APP, APP]
    assert events[1].reason == "CrashLoopBackOff"
    assert events[1].wave == 0


def test_object_events_name_their_node(tmp_path: Path) -> None:
    events: list[ObjectEvent] = []
    path = write(tmp_path, DEPLOY)
    record, _ = run(path, executor=Emitting(), progress=events.append)
    app = node(record, "app")
    assert {event.step for event in events} == {app.name}
    assert app.name == f"{record.name}.app"


def test_object_events_mask_secret_parameters(tmp_path: Path) -> None:
    events: list[ObjectEvent] = []
    path = write(tmp_path, DEPLOY)
    run(
        path,
        executor=Emitting(),
        progress=events.append,
        parameters={"db-password": PASSWORD},
    )
    assert PASSWORD not in events[1].message
    assert "***" in events[1].message


def test_failing_progress_sink_keeps_node_going(tmp_path: Path) -> None:
    def broken(_event: ObjectEvent) -> None:
        raise RuntimeError("view crashed")

    path = write(tmp_path, DEPLOY)
    record, _ = run(path, executor=Emitting(), progress=broken)
    assert record.phase == "Succeeded"
    assert node(record, "app").phase == "Succeeded"
