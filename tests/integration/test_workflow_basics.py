"""Workflows run through `deployer submit` against the local control plane: steps, DAG, loops."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

WORKFLOWS = Path(__file__).parent / "workflows"
ENTRY = "from deployer.cli.main import main; main()"


def deployer(kubeconfig: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the deployer CLI in a child process against the test cluster."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args, "--kubeconfig", kubeconfig],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def submit(
    kubeconfig: str, namespace: str, name: str, *params: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Submit a test workflow and return the finished process and the final run record."""
    args = ["submit", str(WORKFLOWS / name), "-n", namespace, "-o", "json"]
    for param in params:
        args += ["-p", param]
    done = deployer(kubeconfig, *args)
    assert done.stdout.strip(), f"no output; stderr:\n{done.stderr}"
    return done, json.loads(done.stdout)


def nodes_by_display(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["displayName"]: node for node in record["nodes"].values()}


def run_pods(kubeconfig: str, namespace: str, run: str) -> list[dict[str, Any]]:
    """Return the pods of a run, found by the run label."""
    found = kubectl(
        kubeconfig, "get", "pods", "-n", namespace, "-l", f"deployer.dev/run={run}", "-o", "json"
    )
    items: list[dict[str, Any]] = json.loads(found.stdout)["items"]
    return items


def test_hello_world_succeeds_with_its_output(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "hello-world.yaml")
    assert done.returncode == 0, done.stderr
    assert record["phase"] == "Succeeded"
    root = record["nodes"][record["root"]]
    assert root["type"] == "Pod"
    assert root["result"] == "hello world"
    pods = run_pods(kubeconfig, namespace, record["name"])
    assert len(pods) == 1
    assert pods[0]["spec"]["restartPolicy"] == "Never"
    assert pods[0]["spec"]["containers"][0]["args"] == ["hello world"]


def test_parameter_override_reaches_the_pod(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "hello-world.yaml", "message=bonjour")
    assert done.returncode == 0, done.stderr
    assert record["parameters"] == {"message": "bonjour"}
    pods = run_pods(kubeconfig, namespace, record["name"])
    assert pods[0]["spec"]["containers"][0]["args"] == ["bonjour"]


def test_unknown_parameter_is_rejected(kubeconfig: str, namespace: str) -> None:
    done = deployer(
        kubeconfig, "submit", str(WORKFLOWS / "hello-world.yaml"), "-n", namespace, "-p", "nope=1"
    )
    assert done.returncode == 1
    assert "nope" in done.stderr


def test_steps_parallel_group_runs_between_its_neighbours(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "steps-parallel.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["join"]["result"] == "left after prepared / right after prepared"
    assert nodes["prepare"]["finishedAt"] <= nodes["left"]["startedAt"]
    assert nodes["prepare"]["finishedAt"] <= nodes["right"]["startedAt"]
    assert (
        max(nodes["left"]["finishedAt"], nodes["right"]["finishedAt"]) <= nodes["join"]["startedAt"]
    )
    groups = [n for n in record["nodes"].values() if n["type"] == "StepGroup"]
    assert len(groups) == 3


def test_diamond_dag_joins_both_branches(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "dag-diamond.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["D"]["result"] == "AB+AC"
    assert nodes["A"]["finishedAt"] <= nodes["B"]["startedAt"]
    assert nodes["C"]["finishedAt"] <= nodes["D"]["startedAt"]
    assert record["nodes"][record["root"]]["type"] == "DAG"
    assert len(run_pods(kubeconfig, namespace, record["name"])) == 4


def test_dag_continue_on_meets_dependencies(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "dag-continue-on.yaml")
    assert done.returncode == 0, done.stderr
    assert record["phase"] == "Succeeded"
    nodes = nodes_by_display(record)
    assert nodes["B"]["phase"] == "Failed"
    assert nodes["G"]["phase"] == "Error"
    for name in ("D", "E", "H"):
        assert nodes[name]["phase"] == "Succeeded", name
    assert nodes["F"]["phase"] == "Omitted"
    assert nodes["B"]["finishedAt"] <= nodes["D"]["startedAt"]


def test_script_command_options_reach_pod(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "script-options.yaml")
    assert done.returncode == 0, done.stderr
    assert record["phase"] == "Succeeded"
    commands = sorted(
        pod["spec"]["containers"][0]["command"] + pod["spec"]["containers"][0]["args"]
        for pod in run_pods(kubeconfig, namespace, record["name"])
    )
    assert commands == [
        ["/bin/bash", "-e", "-c", "echo hi", "script"],
        ["python", "-u", "-c", "print(1)"],
        ["sh", "-x", "-c", "echo hi", "script"],
    ]


def test_script_unknown_interpreter_rejected_before_run(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = (WORKFLOWS / "script-options.yaml").read_text()
    path = tmp_path / "script-r.yaml"
    path.write_text(text.replace("command: [python, -u]", "command: [Rscript, --vanilla]"))
    done = deployer(kubeconfig, "submit", str(path), "-n", namespace)
    assert done.returncode != 0
    assert f"{path}:18: template unbuffered: script interpreter 'Rscript'" in done.stderr
    pods = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "name")
    assert pods.stdout.strip() == ""


def test_loops_over_maps_exact_items_and_param(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "loops.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["distro(0:image:debian,tag:12)"]["result"] == "debian:12"
    assert nodes["distro(1:image:alpine,tag:3.20)"]["result"] == "alpine:3.20"
    colours = sorted(n["result"] for name, n in nodes.items() if name.startswith("colour("))
    assert colours == ["colour blue", "colour green", "colour red"]
    args = Counter(
        pod["spec"]["containers"][0]["args"][0]
        for pod in run_pods(kubeconfig, namespace, record["name"])
    )
    assert args['say "hi" & it\'s ok'] == 1
    assert args['{"a": [1, 2], "b": "x y"}'] == 1
    assert args["' || true || '"] == 1
    exact = [n for name, n in nodes.items() if name.startswith("exact(")]
    assert sorted(n["result"] for n in exact) == sorted(
        ['say "hi" & it\'s ok', '{"a": [1, 2], "b": "x y"}', "' || true || '"]
    )


def test_get_and_list_show_the_run(kubeconfig: str, namespace: str) -> None:
    _, record = submit(kubeconfig, namespace, "steps-parallel.yaml")
    shown = deployer(kubeconfig, "get", record["name"])
    assert shown.returncode == 0, shown.stderr
    assert "Succeeded" in shown.stdout
    assert "join" in shown.stdout
    listed = deployer(kubeconfig, "list", "-n", namespace, "-o", "name")
    assert record["name"] in listed.stdout.split()
    as_json = json.loads(deployer(kubeconfig, "get", record["name"], "-o", "json").stdout)
    assert as_json["phase"] == "Succeeded"


def test_failed_loop_item_leaves_every_item_running(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "loop-failure.yaml")
    assert done.returncode == 1
    assert record["phase"] == "Failed"
    nodes = nodes_by_display(record)
    group = record["nodes"][nodes["[0]"]["id"]]
    children = [record["nodes"][child]["displayName"] for child in group["children"]]
    assert children == ["exit(0:1)", "exit(1:0)", "exit(2:0)", "exit(3:0)"]
    assert nodes["exit(0:1)"]["phase"] == "Failed"
    for name in children[1:]:
        assert nodes[name]["phase"] == "Succeeded"
    assert len(run_pods(kubeconfig, namespace, record["name"])) == 4


NESTED_TYPO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: nested-typo-
spec:
  entrypoint: say
  templates:
  - name: say
    container:
      image: busybox:1.36
      command: [echo, hi]
      resources:
        limit:
          cpu: 100m
"""


def test_unknown_nested_pod_field_fails_the_step(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    workflow = tmp_path / "nested-typo.yaml"
    workflow.write_text(NESTED_TYPO)
    done = deployer(kubeconfig, "submit", str(workflow), "-n", namespace, "-o", "json")
    record = json.loads(done.stdout)
    root = record["nodes"][record["root"]]
    assert done.returncode == 1
    assert root["phase"] == "Error"
    assert "resources.limit" in root["message"]
    assert run_pods(kubeconfig, namespace, record["name"]) == []
