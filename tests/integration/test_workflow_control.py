"""`when`, recursion, retries, exit handlers, sidecars and resource steps on the local cluster."""

from __future__ import annotations

import json

import pytest

from tests.conftest import kubectl
from tests.integration.test_workflow_basics import nodes_by_display, run_pods, submit

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize(("side", "other"), [("heads", "tails"), ("tails", "heads")])
def test_coinflip_when_runs_only_the_flipped_branch(
    kubeconfig: str, namespace: str, side: str, other: str
) -> None:
    done, record = submit(kubeconfig, namespace, "coinflip.yaml", f"side={side}")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["flip"]["result"] == side
    assert nodes[side]["phase"] == "Succeeded"
    assert nodes[side]["result"] == f"it was {side}"
    assert nodes[other]["phase"] == "Skipped"
    assert len(run_pods(kubeconfig, namespace, record["name"])) == 2


def test_script_step_passes_source_to_interpreter(kubeconfig: str, namespace: str) -> None:
    _, record = submit(kubeconfig, namespace, "coinflip.yaml")
    flip = [
        pod
        for pod in run_pods(kubeconfig, namespace, record["name"])
        if pod["metadata"]["annotations"]["deployer.dev/node-name"].endswith(".flip")
    ]
    container = flip[0]["spec"]["containers"][0]
    assert container["command"] == ["python"]
    assert container["args"][0] == "-c"
    assert "random.randint" in container["args"][1]


def test_recursive_coinflip_recurses_until_heads(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "coinflip-recursive.yaml", "heads-at=3")
    assert done.returncode == 0, done.stderr
    flips = [n for n in record["nodes"].values() if n["displayName"] == "flip"]
    assert sorted(n["result"] for n in flips) == ["heads", "tails", "tails", "tails"]
    heads = [n for n in record["nodes"].values() if n["displayName"] == "heads"]
    assert [n["phase"] for n in heads if n["phase"] == "Succeeded"] == ["Succeeded"]
    assert sum(1 for n in record["nodes"].values() if n["displayName"] == "tails") == 4


def test_when_compares_numbers_and_date_like_text(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "when-values.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["numeric-greater"]["phase"] == "Succeeded"
    assert nodes["text-greater"]["phase"] == "Skipped"
    assert nodes["release-differs"]["phase"] == "Succeeded"
    assert nodes["release-equals"]["phase"] == "Skipped"


def test_retried_step_succeeds_on_second_attempt(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "retry-second.yaml")
    assert done.returncode == 0, done.stderr
    root = record["nodes"][record["root"]]
    assert root["type"] == "Retry"
    attempts = [record["nodes"][child] for child in root["children"]]
    assert [a["phase"] for a in attempts] == ["Failed", "Succeeded"]
    assert attempts[0]["exitCode"] == 1
    assert attempts[1]["result"] == "attempt 1"
    assert len(run_pods(kubeconfig, namespace, record["name"])) == 2


def test_exit_handler_sees_failed_status_and_failures(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "exit-handler.yaml")
    assert done.returncode == 1
    assert record["phase"] == "Failed"
    nodes = nodes_by_display(record)
    assert nodes["succeeded"]["phase"] == "Skipped"
    report = nodes["failed"]["result"]
    status, _, failures = report.partition(" failures=")
    assert status == "status=Failed"
    failed = json.loads(failures)
    assert [f["displayName"] for f in failed] == ["break"]
    assert failed[0]["templateName"] == "broken"
    assert record["exitRoot"] is not None


def test_sidecar_step_ends_with_main_container(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "sidecar.yaml")
    assert done.returncode == 0, done.stderr
    root = record["nodes"][record["root"]]
    assert root["result"] == "served"
    pod = kubectl(
        kubeconfig, "get", "pod", "-n", namespace, root["podName"], "-o", "json", check=False
    )
    # The pod is deleted once the main container ends, which stops the sidecar.
    gone = pod.returncode != 0 or json.loads(pod.stdout)["metadata"].get("deletionTimestamp")
    assert gone


def test_resource_step_waits_for_success_condition(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "resource-job.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    job_name = nodes["job"]["outputs"]["job-name"]
    assert job_name.startswith("quick-job-")
    assert nodes["report"]["result"] == f"job {job_name}"
    job = json.loads(
        kubectl(kubeconfig, "get", "job", "-n", namespace, job_name, "-o", "json").stdout
    )
    assert job["status"]["succeeded"] >= 1
    owners = job["metadata"]["ownerReferences"]
    assert owners[0]["kind"] == "ConfigMap"
    assert owners[0]["name"] == f"deployer-run-{record['name']}"
    settings = json.loads(
        kubectl(kubeconfig, "get", "configmaps", "-n", namespace, "-o", "json").stdout
    )
    assert any(c["metadata"]["name"].startswith("job-settings-") for c in settings["items"])


def test_resource_actions_apply_patch_get_delete(kubeconfig: str, namespace: str) -> None:
    done, record = submit(kubeconfig, namespace, "resource-actions.yaml")
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["read"]["outputs"] == {"colour": "blue"}
    assert nodes["remove"]["phase"] == "Succeeded"
    left = kubectl(kubeconfig, "get", "configmap", "paint", "-n", namespace, check=False)
    assert left.returncode != 0


def test_manifests_step_applies_before_dependent_task(kubeconfig: str, namespace: str) -> None:
    done, record = submit(
        kubeconfig, namespace, "manifests-step.yaml", f"namespace={namespace}", "greeting=hey"
    )
    assert done.returncode == 0, done.stderr
    nodes = nodes_by_display(record)
    assert nodes["config"]["type"] == "Manifests"
    assert nodes["config"]["finishedAt"] <= nodes["after"]["startedAt"]
    found = kubectl(kubeconfig, "get", "configmap", "greeting", "-n", namespace, "-o", "json")
    assert json.loads(found.stdout)["data"] == {"greeting": "hey"}
