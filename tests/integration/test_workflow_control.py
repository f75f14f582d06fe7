"""`when`, recursion, retries, exit handlers, sidecars and resource steps on the local cluster."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

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


def watch_events(output: IO[str]) -> list[dict[str, Any]]:
    """Read the events that `kubectl get --watch --output-watch-events -o json` wrote so far."""
    output.seek(0)
    text = output.read()
    decoder = json.JSONDecoder()
    found, index = [], 0
    while text[index:].strip():
        while text[index].isspace():
            index += 1
        try:
            event, index = decoder.raw_decode(text, index)
        except ValueError:  # the last event is still being written
            break
        found.append(event)
    return found


@contextlib.contextmanager
def pod_watch(kubeconfig: str, namespace: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Watch the pods of a namespace in the background; yield a function that reads the events."""
    from deployer.local import kubectl_binary

    # A pod that the watch lists first shows when the watch has begun.
    kubectl(kubeconfig, "run", "watch-ready", "-n", namespace, "--image=busybox", "--restart=Never")
    command = [str(kubectl_binary() or "kubectl"), "--kubeconfig", kubeconfig, "get", "pods"]
    command += ["-n", namespace, "--watch", "--output-watch-events", "-o", "json"]
    with (
        tempfile.TemporaryFile(mode="w+") as output,
        subprocess.Popen(command, stdout=output, stderr=subprocess.DEVNULL) as process,
    ):
        try:
            deadline = time.monotonic() + 30
            while not any(
                e["object"]["metadata"]["name"] == "watch-ready" for e in watch_events(output)
            ):
                assert time.monotonic() < deadline, "the pod watch did not start"
                time.sleep(0.2)
            yield lambda: watch_events(output)
        finally:
            process.terminate()


def main_terminated(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(s["name"] == "main" and "terminated" in s.get("state", {}) for s in statuses)


def deleting(kind: str, pod: dict[str, Any]) -> bool:
    return kind == "DELETED" or bool(pod["metadata"].get("deletionTimestamp"))


def test_sidecar_step_ends_with_main_container(kubeconfig: str, namespace: str) -> None:
    with pod_watch(kubeconfig, namespace) as events:
        done, record = submit(kubeconfig, namespace, "sidecar.yaml")
        assert done.returncode == 0, done.stderr
        pod_name = record["nodes"][record["root"]]["podName"]
        deadline = time.monotonic() + 30
        while True:
            seen = [
                (e["type"], e["object"])
                for e in events()
                if e["object"]["metadata"]["name"] == pod_name
            ]
            if any(deleting(kind, pod) for kind, pod in seen) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert record["nodes"][record["root"]]["result"] == "Welcome to nginx!"
    assert seen, f"no watch event for pod {pod_name}"

    main, sidecar = seen[0][1]["spec"]["containers"]
    assert main["name"] == "main"
    assert main["image"] == "curlimages/curl:8.11.1"
    assert main["command"] == ["sh", "-c"]
    assert "until curl -sf http://127.0.0.1:80/" in main["args"][0]
    assert sidecar["name"] == "nginx"
    assert sidecar["image"] == "nginx:1.27"
    assert sidecar["ports"][0]["containerPort"] == 80

    # deployer deletes the pod once its main container has ended, which stops the sidecar;
    # a pod without sidecars stays for `deployer logs`.
    ended = [i for i, (_, pod) in enumerate(seen) if main_terminated(pod)]
    deleted = [i for i, (kind, pod) in enumerate(seen) if deleting(kind, pod)]
    assert ended, "the main container never ended"
    assert deleted, "the pod with the sidecar was not deleted"
    assert deleted[0] >= ended[0]


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
