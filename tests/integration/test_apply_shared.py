"""Prune and destroy keep what other inventories, or the applied objects, still need."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: pets.{group}}}
spec:
  group: {group}
  names: {{kind: Pet, plural: pets}}
  scope: Namespaced
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
            properties:
              legs: {{type: integer}}
"""

NAMESPACE = """
apiVersion: v1
kind: Namespace
metadata: {name: "{{ ns }}"}
"""

PET = """
apiVersion: {group}/v1
kind: Pet
metadata: {{name: rex, namespace: "{{{{ ns }}}}"}}
spec: {{legs: 4}}
"""

SETTINGS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: "{{ ns }}"}
data: {COLOR: blue}
"""


def _deployer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _exists(kubeconfig: str, *args: str) -> bool:
    return kubectl(kubeconfig, "get", *args, check=False).returncode == 0


@pytest.fixture
def group(kubeconfig: str) -> Iterator[str]:
    """A CRD group of its own, whose CRD is deleted after the test."""
    name = f"t{uuid.uuid4().hex[:8]}.example.com"
    yield name
    kubectl(kubeconfig, "delete", "crd", f"pets.{name}", "--wait=false", check=False)


@pytest.fixture
def spares(kubeconfig: str) -> Iterator[list[str]]:
    """Names for namespaces that a test's manifests create, deleted after the test."""
    names = [f"shared-{uuid.uuid4().hex[:6]}-{index}" for index in range(2)]
    yield names
    kubectl(kubeconfig, "delete", "namespace", *names, "--wait=false", check=False)


def _app(folder: Path, group: str) -> str:
    folder.mkdir()
    (folder / "crd.yaml").write_text(CRD.format(group=group))
    (folder / "ns.yaml").write_text(NAMESPACE)
    (folder / "pet.yaml").write_text(PET.format(group=group))
    (folder / "settings.yaml").write_text(SETTINGS)
    return str(folder)


def test_destroy_keeps_crd_of_other_instance(
    kubeconfig: str, namespace: str, tmp_path: Path, group: str, spares: list[str]
) -> None:
    app = _app(tmp_path / "app", group)
    first, second = spares
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    applied = _deployer("apply", "-f", app, "-p", f"ns={first}", *common)
    assert applied.returncode == 0, applied.stderr
    again = _deployer("apply", "-f", app, "-p", f"ns={second}", "--inventory", "two", *common)
    assert again.returncode == 0, again.stderr

    destroyed = _deployer("destroy", "-f", app, "-p", f"ns={first}", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    expected = f"kept CustomResourceDefinition pets.{group}: also in inventory {namespace}/two"
    assert expected in destroyed.stdout
    assert "deleted 3 object(s)" in destroyed.stdout
    assert _exists(kubeconfig, "crd", f"pets.{group}")
    assert _exists(kubeconfig, f"pets.{group}", "rex", "-n", second)

    last = _deployer("destroy", "--inventory", "two", *common)
    assert last.returncode == 0, last.stderr
    assert "kept" not in last.stdout
    assert not _exists(kubeconfig, "crd", f"pets.{group}")


def test_prune_keeps_namespace_in_use(
    kubeconfig: str, namespace: str, tmp_path: Path, group: str, spares: list[str]
) -> None:
    app = _app(tmp_path / "app", group)
    (tmp_path / "app" / "crd.yaml").unlink()
    (tmp_path / "app" / "pet.yaml").unlink()
    target = spares[0]
    common = ["--kubeconfig", kubeconfig, "-n", namespace, "-p", f"ns={target}"]
    applied = _deployer("apply", "-f", app, "--inventory", "ns", *common)
    assert applied.returncode == 0, applied.stderr
    (tmp_path / "app" / "ns.yaml").unlink()

    for flags in ([], ["--prune"]):
        pruned = _deployer("apply", "-f", app, "--inventory", "ns", *flags, *common)
        assert pruned.returncode == 0, pruned.stderr
        assert "0 pruned" in pruned.stdout
        assert f"kept Namespace {target}: 1 object(s) of this apply are in it" in pruned.stdout
        assert _exists(kubeconfig, "namespace", target)
        assert _exists(kubeconfig, "configmap", "settings", "-n", target)

    differences = _deployer("diff", "-f", app, "--inventory", "ns", *common)
    assert differences.returncode == 0, differences.stdout + differences.stderr

    destroyed = _deployer("destroy", "-f", app, "--inventory", "ns", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert "deleted 2 object(s)" in destroyed.stdout


def test_prune_keeps_crd_in_use(
    kubeconfig: str, namespace: str, tmp_path: Path, group: str, spares: list[str]
) -> None:
    app = _app(tmp_path / "app", group)
    common = ["--kubeconfig", kubeconfig, "-n", namespace, "-p", f"ns={spares[0]}"]
    applied = _deployer("apply", "-f", app, "--inventory", "crd", *common)
    assert applied.returncode == 0, applied.stderr
    (tmp_path / "app" / "crd.yaml").unlink()

    pruned = _deployer("apply", "-f", app, "--inventory", "crd", "--prune", *common)
    assert pruned.returncode == 0, pruned.stderr
    expected = f"kept CustomResourceDefinition pets.{group}: 1 custom resource(s) of this apply"
    assert expected in pruned.stdout
    assert _exists(kubeconfig, "crd", f"pets.{group}")

    (tmp_path / "app" / "pet.yaml").unlink()
    final = _deployer("apply", "-f", app, "--inventory", "crd", "--prune", *common)
    assert final.returncode == 0, final.stderr
    assert "2 pruned" in final.stdout
    assert not _exists(kubeconfig, "crd", f"pets.{group}")


def test_manifests_step_destroy_keeps_shared_objects(
    kubeconfig: str, namespace: str, tmp_path: Path, group: str, spares: list[str]
) -> None:
    cluster = Cluster.connect(kubeconfig=kubeconfig)
    app = _app(tmp_path / "app", group)
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    applied = _deployer("apply", "-f", app, "-p", f"ns={spares[1]}", "--inventory", "cli", *common)
    assert applied.returncode == 0, applied.stderr
    context = TemplateContext(
        cluster=cluster,
        base_dir=tmp_path,
        parameters={"ns": spares[0]},
        workflow_parameters={},
        namespace=namespace,
        run_name="pets-abcde",
        node_name="pets-abcde.app",
        workflow_name="pets",
        timeout_seconds=120.0,
    )
    spec = {"paths": ["app"], "inventory": "step"}
    ran = KINDS["manifests"].run(spec, context)
    assert ran.phase == "Succeeded", ran.message

    destroyed = KINDS["manifests"].destroy(spec, context)
    assert destroyed.phase == "Succeeded", destroyed.message
    assert "CustomResourceDefinition" not in destroyed.message
    assert _exists(kubeconfig, "crd", f"pets.{group}")
    assert _exists(kubeconfig, f"pets.{group}", "rex", "-n", spares[1])


def _limited_kubeconfig(kubeconfig: str, namespace: str, path: Path) -> str:
    """Write a kubeconfig for a ServiceAccount that may only act in `namespace`."""
    kubectl(kubeconfig, "create", "serviceaccount", "limited", "-n", namespace)
    kubectl(
        kubeconfig,
        "create",
        "rolebinding",
        "limited-admin",
        "--clusterrole=admin",
        f"--serviceaccount={namespace}:limited",
        "-n",
        namespace,
    )
    token = kubectl(kubeconfig, "create", "token", "limited", "-n", namespace).stdout.strip()
    config = json.loads(Path(kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(json.dumps(config))
    return str(path)


def test_destroy_without_cluster_listing_keeps_cluster_objects(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    role = f"shared-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {role}}}\n"
        "rules: []\n---\n" + SETTINGS.replace('"{{ ns }}"', namespace)
    )
    common = ["-n", namespace, "--inventory", "rbac"]
    try:
        applied = _deployer("apply", "-f", str(manifest), "--kubeconfig", kubeconfig, *common)
        assert applied.returncode == 0, applied.stderr
        limited = _limited_kubeconfig(kubeconfig, namespace, tmp_path / "limited.json")

        destroyed = _deployer("destroy", "--inventory", "rbac", "--kubeconfig", limited, *common)
        assert destroyed.returncode == 0, destroyed.stderr
        assert "deleted 1 object(s)" in destroyed.stdout
        assert f"kept ClusterRole {role}: listing the inventories of all namespaces" in (
            destroyed.stdout
        )
        assert "cannot list the inventories of all namespaces (forbidden)" in destroyed.stderr
        assert _exists(kubeconfig, "clusterrole", role)
        assert not _exists(kubeconfig, "configmap", "settings", "-n", namespace)
    finally:
        kubectl(kubeconfig, "delete", "clusterrole", role, check=False)
