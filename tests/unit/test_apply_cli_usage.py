"""Apply commands' input errors, run as a user runs them, before any cluster is contacted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _deployer(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A missing kubeconfig makes sure that no command reaches a cluster by accident.
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("command", ["apply", "plan", "template", "diff", "destroy"])
def test_missing_file_exits_one_like_kubectl(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope.yaml"
    result = _deployer(tmp_path, command, "-f", str(missing))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: file or folder not found: {missing}"


def test_plan_of_workflow_suggests_submit(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: hi-}\n"
        "spec:\n  entrypoint: main\n  templates: [{name: main, container: {image: busybox}}]\n"
    )
    result = _deployer(tmp_path, "plan", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert "is an Argo Workflow object" in result.stderr
    assert f"use `deployer submit {path}`" in result.stderr


@pytest.mark.parametrize("command", ["plan", "template"])
def test_offline_commands_run_static_checks(tmp_path: Path, command: str) -> None:
    path = tmp_path / "flags.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {x: 1}\n")
    result = _deployer(tmp_path, command, "-f", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: 1 problem(s)")
    assert f"ConfigMap flags ({path}:1): data.x: must be a string" in result.stderr


@pytest.mark.parametrize("command", ["plan", "template"])
def test_offline_commands_check_annotations(tmp_path: Path, command: str) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\n"
        '  annotations: {deployer.dev/timeout: "5 minutes"}\ndata: {x: "1"}\n'
    )
    result = _deployer(tmp_path, command, "-f", str(path))
    assert result.returncode == 1
    assert "invalid duration '5 minutes'" in result.stderr


CRD_AND_RESOURCE = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties: {size: {type: integer}}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g, namespace: default}
spec: {size: big}
"""


def test_plan_checks_custom_resource_against_crd(tmp_path: Path) -> None:
    path = tmp_path / "gadget.yaml"
    path.write_text(CRD_AND_RESOURCE)
    result = _deployer(tmp_path, "plan", "-f", str(path))
    assert result.returncode == 1
    assert "Gadget.example.com default/g" in result.stderr
    assert "spec.size" in result.stderr


def test_template_reports_dependency_cycle(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\n"
        "  annotations: {deployer.dev/depends-on: ConfigMap/b}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: default\n"
        "  annotations: {deployer.dev/depends-on: ConfigMap/a}\n"
    )
    result = _deployer(tmp_path, "template", "-f", str(path))
    assert result.returncode == 1
    assert "dependency cycle" in result.stderr


def test_valid_template_still_prints_objects(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {x: '1'}\n")
    result = _deployer(tmp_path, "template", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert "name: ok" in result.stdout
