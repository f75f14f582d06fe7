"""`deployer down STACK` output: the same line prefix as `up`, and the total time."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_demo_stacks import deployer
from tests.integration.test_stack_progress import failed_run

pytestmark = pytest.mark.cluster

CRASHLOOP = "tests/stacks/crashloop.yaml"


def test_down_prefixes_lines_with_run(kubeconfig: str, namespace: str) -> None:
    up = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert up.returncode == 1, up.stdout + up.stderr
    run = failed_run(up.stderr, "crashloop")
    done = deployer(kubeconfig, "down", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"[{run}] app  Deleted  ") for line in lines), done.stdout
    assert any(line.startswith(f"[{run}] settings  Deleted  ") for line in lines), done.stdout
    assert not any("crashloop-workflow.yaml]" in line for line in lines), done.stdout


def test_down_prints_total_time(kubeconfig: str, namespace: str) -> None:
    up = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert up.returncode == 1, up.stdout + up.stderr
    done = deployer(kubeconfig, "down", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert re.fullmatch(r"stack down: \d+\.\d s, 2 task\(s\) of crashloop destroyed", last), last
