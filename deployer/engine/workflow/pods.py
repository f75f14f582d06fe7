"""Pods for `container` and `script` templates, and reading their outputs back.

Outputs are read the way a real cluster returns them, so the same workflow works on the local
control plane (where kwok sets pod status and nothing executes) and on a real cluster:

- `outputs.result` is the main container's termination message when it is not empty, else the
  pod's log (stdout).
- An output parameter with `valueFrom.path` equal to the main container's
  `terminationMessagePath` (default `/dev/termination-log`) is the whole termination message.
  For any other path the termination message must be a JSON object with the path as a key,
  e.g. `{"/tmp/out.txt": "hello"}`; its value (text as is, anything else as JSON) is the
  parameter. A path that is not there takes `valueFrom.default`, else the node fails.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deployer.errors import WorkflowError

RUN_LABEL = "deployer.dev/run"
NODE_LABEL = "deployer.dev/node"
NODE_NAME_ANNOTATION = "deployer.dev/node-name"
MAIN_CONTAINER = "main"
DEFAULT_TERMINATION_PATH = "/dev/termination-log"

# The flag with which each script interpreter takes its program text on the command line.
SCRIPT_FLAGS = {
    "sh": "-c",
    "bash": "-c",
    "ash": "-c",
    "dash": "-c",
    "zsh": "-c",
    "python": "-c",
    "python3": "-c",
    "node": "-e",
    "perl": "-e",
    "ruby": "-e",
}
_VERSION_SUFFIX = re.compile(r"[\d.]+$")
# Interpreters that take the first argument after their program text as the program's own
# name ($0 of a shell, process.argv[1] of node). Argo passes the script file there, so a
# stand-in name goes there and the template's `args` keep the positions they have in Argo.
NAME_FIRST = frozenset({"sh", "bash", "ash", "dash", "zsh", "node"})
SCRIPT_NAME = "script"


def short_hash(text: str, length: int = 10) -> str:
    """Return a stable lowercase hex digest of `text`, `length` characters long."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def pod_name(run: str, template: str, node_name: str, attempt: int) -> str:
    """Name a pod after its run and template, unique per node and run attempt, <= 63 chars."""
    digest = short_hash(f"{node_name}#{attempt}", 8)
    stem = f"{run[:30]}-{template[:20]}".rstrip("-").lower()
    return f"{stem}-{digest}".replace("_", "-").replace(".", "-")


@dataclass(frozen=True)
class PodResult:
    """The end of a pod: phase (Succeeded, Failed or Error), exit code, termination message, log."""

    phase: str
    message: str = ""
    exit_code: int | None = None
    termination_message: str = ""
    log: str = ""


def script_interpreter(command: Sequence[str]) -> str:
    """Return the interpreter of a script's `command`: its first element, or the one after `env`.

    The other elements are the interpreter's options, such as `-x` in `[sh, -x]`.
    """
    first = command[0].rsplit("/", 1)[-1]
    if first == "env" and len(command) > 1:
        return command[1].rsplit("/", 1)[-1]
    return first


def script_flag(command: Sequence[str]) -> str | None:
    """Return the flag with which a script's interpreter takes its program text, or None.

    A version suffix is ignored, so `python3.12` takes `-c` as `python` does.
    """
    interpreter = script_interpreter(command)
    return SCRIPT_FLAGS.get(interpreter) or SCRIPT_FLAGS.get(_VERSION_SUFFIX.sub("", interpreter))


def unsupported_interpreter(command: Sequence[str]) -> str:
    """Return the error message for a script `command` whose interpreter has no known flag."""
    return (
        f"script interpreter {script_interpreter(command)!r} (command {list(command)}) is not "
        f"supported; use one of {', '.join(sorted(SCRIPT_FLAGS))}"
    )


def main_container(body: Mapping[str, Any], *, script: bool) -> dict[str, Any]:
    """Build the main container from a `container` or `script` template body.

    A script runs as its `command` (interpreter and options), then the interpreter's flag,
    the `source` and the template's `args`: `[sh, -x]` runs `sh -x -c SOURCE`. Argo instead
    passes the path of a file that contains the source, so options before it work alike, and
    a shell's `$1` or node's `process.argv[2]` is the first of `args` in both.
    """
    container = {key: value for key, value in body.items() if key != "source"}
    container["name"] = MAIN_CONTAINER
    if not script:
        return container
    command = [str(c) for c in container.get("command") or ["sh"]]
    flag = script_flag(command)
    if flag is None:
        raise WorkflowError(unsupported_interpreter(command))
    container["command"] = command
    interpreter = _VERSION_SUFFIX.sub("", script_interpreter(command))
    name = [SCRIPT_NAME] if interpreter in NAME_FIRST else []
    container["args"] = [flag, str(body.get("source", "")), *name, *container.get("args", [])]
    return container


def build_pod(
    *,
    name: str,
    namespace: str,
    run: str,
    node_name: str,
    container: Mapping[str, Any],
    sidecars: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    service_account: str | None = None,
    active_deadline_seconds: int | None = None,
) -> dict[str, Any]:
    """Build the Pod of one node: restartPolicy Never, labelled with its run and node."""
    pod_labels = dict(labels or {})
    pod_labels[RUN_LABEL] = run
    pod_labels[NODE_LABEL] = short_hash(node_name)
    pod_annotations = dict(annotations or {})
    pod_annotations[NODE_NAME_ANNOTATION] = node_name
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [dict(container), *(dict(s) for s in sidecars)],
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    if active_deadline_seconds:
        spec["activeDeadlineSeconds"] = int(active_deadline_seconds)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": pod_labels,
            "annotations": pod_annotations,
        },
        "spec": spec,
    }


def main_terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the main container's `state.terminated` of a pod, or None while it runs."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == MAIN_CONTAINER:
            terminated = (status.get("state") or {}).get("terminated")
            return terminated if terminated else None
    return None


def waiting_problem(pod: Mapping[str, Any]) -> str | None:
    """Return `reason: message` of a container stuck waiting in a way that will not heal."""
    stuck = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        waiting = (status.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in stuck or (reason == "CrashLoopBackOff"):
            return f"{reason}: {waiting.get('message', '')}".rstrip(": ")
    return None


def pod_outcome(pod: Mapping[str, Any]) -> PodResult | None:
    """Judge a pod: a PodResult once the main container ended or the pod failed, else None."""
    status = pod.get("status") or {}
    terminated = main_terminated(pod)
    if terminated is not None:
        code = int(terminated.get("exitCode", 0))
        message = str(terminated.get("message") or "")
        if code == 0:
            return PodResult("Succeeded", exit_code=0, termination_message=message)
        reason = terminated.get("reason") or "Error"
        return PodResult(
            "Failed",
            message=f"main container exited with code {code} ({reason})",
            exit_code=code,
            termination_message=message,
        )
    phase = status.get("phase")
    if phase == "Succeeded":
        return PodResult("Succeeded", exit_code=0)
    if phase == "Failed":
        text = status.get("message") or status.get("reason") or "pod failed"
        return PodResult("Failed", message=str(text))
    problem = waiting_problem(pod)
    if problem is not None:
        return PodResult("Error", message=problem)
    return None


def read_result(result: PodResult) -> str:
    """Return outputs.result: the termination message when set, else the log."""
    if result.termination_message:
        return result.termination_message
    return result.log.rstrip("\n")


def read_path(
    result: PodResult, path: str, *, termination_path: str = DEFAULT_TERMINATION_PATH
) -> str | None:
    """Return the value of a `valueFrom.path` output, or None when the pod did not write it."""
    message = result.termination_message
    if path == termination_path:
        return message
    try:
        written = json.loads(message) if message else None
    except ValueError:
        return None
    if not isinstance(written, dict) or path not in written:
        return None
    value = written[path]
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
