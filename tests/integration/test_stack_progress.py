"""`deployer up` output (object progress, the not-ready summary) and retry of stack runs.

These tests use the crash-looping test stacks in their own namespace, so unlike the demo
tests they may run beside other tests.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.integration.test_demo_stacks import REPO, deployer, exists, run_record, task_nodes

pytestmark = pytest.mark.cluster

CRASHLOOP = "tests/stacks/crashloop.yaml"
CRASHLOOP_REF = "tests/stacks/crashloop-ref.yaml"
SECRET_VALUE = "do-not-print-7f3a91"  # stringData of tests/stacks/crashloop/credentials.yaml


def failed_run(stderr: str, prefix: str) -> str:
    """Return the run name from the `deployer retry RUN` hint in a failed `up`'s error."""
    found = re.search(rf"deployer retry ({prefix}-[a-z0-9]+)", stderr)
    assert found, stderr
    return found.group(1)


def test_up_prints_object_states(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    run = failed_run(done.stderr, "crashloop")
    assert f"[{run}] settings  ConfigMap {namespace}/settings  Applied  Created" in lines
    assert f"[{run}] settings  ConfigMap {namespace}/settings  Ready  Exists" in lines
    crashed = f"[{run}] app  Deployment {namespace}/app  Failed  CrashLoopBackOff: pod app-"
    assert any(line.startswith(crashed) for line in lines), done.stdout


def test_up_prints_objects_before_task_end(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    applied = next(
        i for i, line in enumerate(lines) if f"Deployment {namespace}/app  Applied" in line
    )
    task_failed = next(i for i, line in enumerate(lines) if re.search(r"\] app  Failed  ", line))
    assert applied < task_failed


def test_up_summary_names_unready_object(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    unready = f"not ready: Deployment {namespace}/app: pod app-"
    found = [line for line in lines if line.startswith(unready)]
    assert found, done.stdout
    assert "CrashLoopBackOff" in found[0]


def test_up_summary_names_failed_and_unrun_tasks(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    run = failed_run(done.stderr, "crashloop")
    lines = done.stdout.splitlines()
    failed = [
        line
        for line in lines
        if line.startswith("not ready: crashloop-workflow.yaml task app Failed: ")
    ]
    assert failed, done.stdout
    assert "CrashLoopBackOff" in failed[0]
    # The runner records a task that a failure kept from starting as Omitted, with the cause.
    omitted = (
        "not ready: crashloop-workflow.yaml task after-app Omitted: not started: task 'app' "
        "failed and the DAG starts no task after a failure"
    )
    assert any(line.startswith(omitted) for line in lines), done.stdout
    assert f"[{run}] after-app  Omitted" in "\n".join(lines)
    assert not any("task settings" in line for line in lines if line.startswith("not ready:"))


def test_up_summary_names_workflows_not_run(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    stacks = REPO / "tests" / "stacks"
    stack = tmp_path / "two.yaml"
    stack.write_text(
        "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nmetadata: {name: two}\nspec:\n"
        f"  workflows:\n    - file: {stacks / 'crashloop-workflow.yaml'}\n"
        f"    - file: {stacks / 'crashloop-ref-workflow.yaml'}\n"
    )
    done = deployer(kubeconfig, "up", str(stack), "-p", f"namespace={namespace}")
    assert done.returncode == 1
    run = failed_run(done.stderr, "crashloop")
    assert (
        f"not ready: crashloop-ref-workflow.yaml: not run, because run {run} of "
        "crashloop-workflow.yaml failed"
    ) in done.stdout.splitlines()
    assert "NotRun" in done.stdout


def test_up_never_prints_secret_data(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP_REF, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    assert f"Secret {namespace}/credentials  Ready" in done.stdout
    assert SECRET_VALUE not in done.stdout
    assert SECRET_VALUE not in done.stderr


def test_stack_run_records_workflow_templates(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", CRASHLOOP_REF, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    record = run_record(kubeconfig, failed_run(done.stderr, "crashloop-ref"))
    assert set(record["templates"]) >= {"crashloop-parts"}
    assert record["workflow"]["kind"] == "Workflow"
    assert record["workflow"]["metadata"]["generateName"] == "crashloop-ref-"


def test_retry_of_stack_run_with_template_ref(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    # A copy of the test stacks, so the cause can be fixed between `up` and `retry`.
    shutil.copytree(REPO / "tests" / "stacks", tmp_path / "stacks")
    stack = tmp_path / "stacks" / "crashloop-ref.yaml"
    failed = deployer(kubeconfig, "up", str(stack), "-p", f"namespace={namespace}")
    assert failed.returncode == 1
    run = failed_run(failed.stderr, "crashloop-ref")
    before = task_nodes(run_record(kubeconfig, run))
    assert before["app"]["phase"] == "Failed"

    app = tmp_path / "stacks" / "crashloop" / "app-dep.yaml"
    app.write_text(app.read_text().replace("deployer.dev/sim: crashloop", "example.com/fixed: x"))
    retried = deployer(kubeconfig, "retry", run)
    assert retried.returncode == 0, retried.stdout + retried.stderr

    after = task_nodes(run_record(kubeconfig, run))
    assert after["settings"]["startedAt"] == before["settings"]["startedAt"]
    assert after["app"]["phase"] == "Succeeded"
    assert after["after-app"]["phase"] == "Succeeded"
    assert exists(kubeconfig, "configmap", "after-app", "-n", namespace)
