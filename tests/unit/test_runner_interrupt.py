"""Ctrl-C while the CLI runs a workflow: the run is stopped, waited for and exits 130."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import click
import pytest

from deployer.cli.workflow_cmds import run_in_thread
from deployer.model.run import RunRecord


class SlowRunner:
    """Runs until stopped (or 5 s), then ends Failed if it was stopped, else Succeeded."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.stopped = threading.Event()

    def stop(self, how: str = "stop") -> None:
        self.requests.append(how)
        self.stopped.set()

    def start(self, keep: Callable[[Any], None]) -> RunRecord:
        keep(self)
        self.stopped.wait(5)
        # An exit handler takes a moment after the stop; the CLI must wait for it.
        threading.Event().wait(0.5)
        phase = "Failed" if self.requests else "Succeeded"
        return RunRecord(
            name="long-x", namespace="default", workflow={}, phase=phase, message="run stopped"
        )


def interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_run_and_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    runner = SlowRunner()
    timer = interrupt_after(0.3)
    with pytest.raises(click.exceptions.Exit) as ended:
        run_in_thread(runner.start, live=False)
    timer.cancel()
    assert ended.value.exit_code == 130
    assert runner.requests == ["stop"]
    err = capsys.readouterr().err
    assert "stopping the run; exit handlers still run" in err
    assert "run long-x failed: run stopped" in err


def test_second_ctrl_c_terminates_run() -> None:
    runner = SlowRunner()
    first = interrupt_after(0.2)
    second = interrupt_after(0.4)
    with pytest.raises(click.exceptions.Exit):
        run_in_thread(runner.start, live=False)
    first.cancel()
    second.cancel()
    assert runner.requests == ["stop", "terminate"]


def test_run_without_ctrl_c_returns_record() -> None:
    runner = SlowRunner()
    threading.Timer(0.2, runner.stopped.set).start()
    record = run_in_thread(runner.start, live=False)
    assert record.phase == "Succeeded"


def test_ctrl_c_with_json_output_prints_record(capsys: pytest.CaptureFixture[str]) -> None:
    runner = SlowRunner()
    timer = interrupt_after(0.3)
    with pytest.raises(click.exceptions.Exit):
        run_in_thread(runner.start, live=False, output="json")
    timer.cancel()
    printed = json.loads(capsys.readouterr().out)
    assert printed["phase"] == "Failed"
