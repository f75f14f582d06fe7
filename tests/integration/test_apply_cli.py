"""The apply commands as a user runs them: output, Secret masking and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from deployer.cluster.inventory import default_name
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {COLOR: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {value: s3cr3t-value}
"""


def _deployer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def stack(tmp_path: Path) -> str:
    path = tmp_path / "stack.yaml"
    path.write_text(CONFIG)
    return str(path)


def test_apply_prints_each_state_and_exits_zero(
    kubeconfig: str, namespace: str, stack: str
) -> None:
    done = _deployer("apply", "-f", stack, "--kubeconfig", kubeconfig, "-n", namespace)
    assert done.returncode == 0, done.stderr
    assert f"ConfigMap {namespace}/settings  Ready" in done.stdout
    assert "2 created" in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr


def test_apply_json_output_is_one_object_per_line(
    kubeconfig: str, namespace: str, stack: str
) -> None:
    done = _deployer(
        "apply", "-f", stack, "--kubeconfig", kubeconfig, "-n", namespace, "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    states = {(line.get("name"), line.get("state")) for line in lines if line["type"] == "object"}
    assert ("settings", "Ready") in states
    assert lines[-1]["type"] == "result"
    assert lines[-1]["created"] == 2


def test_invalid_object_exits_one_with_error_line(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata:\n  FEATURE: on\n"
    )
    done = _deployer("apply", "-f", str(path), "--kubeconfig", kubeconfig, "-n", namespace)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "data.FEATURE" in done.stderr


def test_json_output_ends_with_error_on_failure(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\ndata:\n  X: 3\n")
    done = _deployer(
        "apply", "-f", str(path), "--kubeconfig", kubeconfig, "-n", namespace, "-o", "json"
    )
    assert done.returncode == 1
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["type"] == "error"
    assert "data.X" in last["message"]


def test_unknown_option_exits_two() -> None:
    done = _deployer("apply", "--no-such-flag")
    assert done.returncode == 2


def test_destroy_without_target_exits_two(kubeconfig: str) -> None:
    done = _deployer("destroy", "--kubeconfig", kubeconfig)
    assert done.returncode == 2
    assert "--inventory" in done.stderr


def test_template_masks_secrets_unless_asked(stack: str) -> None:
    masked = _deployer("template", "-f", stack)
    assert masked.returncode == 0, masked.stderr
    assert "s3cr3t" not in masked.stdout
    assert "***" in masked.stdout
    revealed = _deployer("template", "-f", stack, "--show-secrets")
    assert "s3cr3t-value" in revealed.stdout


def test_plan_lists_objects_without_cluster(stack: str) -> None:
    done = _deployer("plan", "-f", stack)
    assert done.returncode == 0, done.stderr
    assert "settings" in done.stdout
    assert "token" in done.stdout


def test_destroy_inventory_then_diff_shows_all_new(
    kubeconfig: str, namespace: str, stack: str
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    applied = _deployer("apply", "-f", stack, "--inventory", "cli", *common)
    assert applied.returncode == 0, applied.stderr
    same = _deployer("diff", "-f", stack, *common)
    assert same.returncode == 0, same.stdout
    destroyed = _deployer("destroy", "--inventory", "cli", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert "deleted 2 object(s)" in destroyed.stdout
    changed = _deployer("diff", "-f", stack, "--exit-code", *common)
    assert changed.returncode == 1
    assert "+  COLOR: blue" in changed.stdout
    assert "s3cr3t" not in changed.stdout


def test_diff_exits_one_when_objects_differ(kubeconfig: str, namespace: str, stack: str) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    changed = _deployer("diff", "-f", stack, *common)
    assert changed.returncode == 1, changed.stderr
    assert "2 of 2 object(s) differ" in changed.stderr
    applied = _deployer("apply", "-f", stack, *common)
    assert applied.returncode == 0, applied.stderr
    same = _deployer("diff", "-f", stack, *common)
    assert same.returncode == 0, same.stdout


def test_diff_inventory_lists_pruned_objects(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "a.yaml").write_text(CONFIG.split("---")[0])
    (folder / "b.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {SIZE: '2'}\n"
    )
    applied = _deployer("apply", "-f", str(folder), "--inventory", "inv", *common)
    assert applied.returncode == 0, applied.stderr
    (folder / "b.yaml").unlink()
    done = _deployer("diff", "-f", str(folder), "--inventory", "inv", *common)
    assert done.returncode == 1, done.stderr
    assert "0 of 1 object(s) differ, 1 would be pruned" in done.stderr
    assert f"--- live/ConfigMap {namespace}/extra" in done.stdout
    assert "-  SIZE: '2'" in done.stdout
    assert "settings" not in done.stdout


NO_POD_CREATE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {role}}}
rules:
- {{apiGroups: [""], resources: [configmaps], verbs: ["*"]}}
- {{apiGroups: [""], resources: [namespaces], verbs: [get, patch, create]}}
- {{apiGroups: [""], resources: [pods], verbs: [patch]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {role}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects: [{{kind: ServiceAccount, name: no-pods, namespace: {namespace}}}]
"""


def _no_pod_create_kubeconfig(kubeconfig: str, namespace: str, folder: Path) -> str:
    """Write a kubeconfig for a ServiceAccount that may patch Pods but not create them.

    Server-side apply only needs the patch permission, while the dry-run create in a
    stand-in namespace needs create.
    """
    kubectl(kubeconfig, "create", "serviceaccount", "no-pods", "-n", namespace)
    rbac = folder / "rbac.yaml"
    rbac.write_text(NO_POD_CREATE.format(role=f"no-pod-create-{namespace}", namespace=namespace))
    kubectl(kubeconfig, "apply", "-f", str(rbac))
    token = kubectl(kubeconfig, "create", "token", "no-pods", "-n", namespace).stdout.strip()
    config = json.loads(Path(kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path = folder / "limited.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_dry_run_counts_only_checked_objects(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    # A user who may not create Pods has every stand-in namespace reject the Pod before
    # the server validates it.
    limited = _no_pod_create_kubeconfig(kubeconfig, namespace, tmp_path)
    fresh = f"fresh-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "new.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh}}}\n---\n"
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {fresh}}}\n---\n"
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: {fresh}}}\n"
        "spec: {containers: [{name: web, image: nginx}]}\n"
    )
    common = ["--kubeconfig", limited, "-n", namespace]
    try:
        done = _deployer("apply", "-f", str(path), "--dry-run=server", *common)
        assert done.returncode == 0, done.stderr
        last = done.stdout.splitlines()[-1]
        assert last == (
            "dry run passed for 2 of 3 object(s); 1 could not be checked (NotChecked above); "
            "nothing written"
        )
        expected = f"Pod {fresh}/web  Applied  NotChecked: stand-in namespace {namespace}"
        assert expected in done.stdout
        assert "stand-in namespace default rejected it" in done.stdout
        assert "forbidden" in done.stdout
        as_json = _deployer("apply", "-f", str(path), "--dry-run=server", "-o", "json", *common)
        result = json.loads(as_json.stdout.splitlines()[-1])
        assert (result["objects"], result["dryRun"], result["notChecked"]) == (3, 2, 1)
        assert kubectl(kubeconfig, "get", "namespace", fresh, check=False).returncode != 0
    finally:
        role = f"no-pod-create-{namespace}"
        kubectl(kubeconfig, "delete", "clusterrolebinding,clusterrole", role, check=False)


def test_apply_records_default_inventory_and_prunes(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "a.yaml").write_text(CONFIG.split("---")[0])
    (folder / "b.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {SIZE: '2'}\n"
    )
    (folder / "c.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {SIZE: '3'}\n"
    )
    name = default_name([str(folder)], namespace=namespace)
    applied = _deployer("apply", "-f", str(folder), *common)
    assert applied.returncode == 0, applied.stderr
    assert f"0 pruned; inventory {name} in namespace {namespace}" in applied.stdout
    (folder / "b.yaml").unlink()

    diffed = _deployer("diff", "-f", str(folder), *common)
    assert diffed.returncode == 1, diffed.stderr
    assert "0 of 2 object(s) differ, 1 would be pruned" in diffed.stderr
    assert f"--- live/ConfigMap {namespace}/extra" in diffed.stdout

    pruned = _deployer("apply", "-f", str(folder) + "/", *common)
    assert pruned.returncode == 0, pruned.stderr
    assert "1 pruned" in pruned.stdout
    (folder / "c.yaml").unlink()
    no_prune = _deployer("apply", "-f", str(folder), "--no-prune", *common)
    assert no_prune.returncode == 0, no_prune.stderr
    assert "0 pruned" in no_prune.stdout
    listed = kubectl(kubeconfig, "get", "configmap", "-n", namespace, "-o", "name").stdout.split()
    assert "configmap/extra" not in listed
    assert "configmap/kept" in listed

    destroyed = _deployer("destroy", "-f", str(folder), *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert "deleted 2 object(s)" in destroyed.stdout
    listed = kubectl(kubeconfig, "get", "configmap", "-n", namespace, "-o", "name").stdout.split()
    assert listed == ["configmap/kube-root-ca.crt"]


INSTANCE = """
apiVersion: v1
kind: Namespace
metadata: {name: "{{ ns }}"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: "{{ ns }}"}
data: {COLOR: blue}
"""


def test_other_parameter_value_keeps_first_instance(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.yaml").write_text(INSTANCE)
    first, second = f"{namespace}-a", f"{namespace}-b"
    try:
        one = _deployer("apply", "-f", str(folder), "-p", f"ns={first}", *common)
        assert one.returncode == 0, one.stderr
        two = _deployer("apply", "-f", str(folder), "-p", f"ns={second}", *common)
        assert two.returncode == 0, two.stderr
        assert "0 pruned" in two.stdout
        first_name = default_name([str(folder)], namespace=namespace, parameters={"ns": first})
        second_name = default_name([str(folder)], namespace=namespace, parameters={"ns": second})
        assert f"inventory {first_name} in namespace {namespace}" in one.stdout
        assert f"inventory {second_name} in namespace {namespace}" in two.stdout
        listed = kubectl(kubeconfig, "get", "configmap", "-n", first, "-o", "name").stdout
        assert "configmap/settings" in listed.split()

        destroyed = _deployer("destroy", "-f", str(folder), "-p", f"ns={first}", *common)
        assert destroyed.returncode == 0, destroyed.stderr
        assert "deleted 2 object(s)" in destroyed.stdout
        kept = kubectl(kubeconfig, "get", "configmap", "-n", second, "-o", "name").stdout
        assert "configmap/settings" in kept.split()
    finally:
        kubectl(kubeconfig, "delete", "namespace", first, second, "--wait=false", check=False)


def test_prune_of_namespace_needs_explicit_prune(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace, "--inventory", "guarded"]
    extra = f"{namespace}-x"
    path = tmp_path / "app.yaml"
    path.write_text(INSTANCE)
    try:
        applied = _deployer("apply", "-f", str(path), "-p", f"ns={extra}", *common)
        assert applied.returncode == 0, applied.stderr
        path.write_text(CONFIG.split("---")[0])

        stopped = _deployer("apply", "-f", str(path), *common)
        assert stopped.returncode == 1
        assert "nothing was applied" in stopped.stderr
        assert f"the prune would delete Namespace {extra} and everything in it" in stopped.stderr
        assert "Pass --prune to delete them, or --no-prune to keep them" in stopped.stderr
        listed = kubectl(kubeconfig, "get", "configmap", "-n", namespace, "-o", "name").stdout
        assert "configmap/settings" not in listed.split()

        kept = _deployer("apply", "-f", str(path), "--no-prune", *common)
        assert kept.returncode == 0, kept.stderr
        assert "0 pruned" in kept.stdout
        assert kubectl(kubeconfig, "get", "namespace", extra).returncode == 0

        pruned = _deployer("apply", "-f", str(path), "--prune", *common)
        assert pruned.returncode == 0, pruned.stderr
        assert "2 pruned" in pruned.stdout
        gone = kubectl(kubeconfig, "get", "namespace", extra, check=False)
        assert gone.returncode != 0
    finally:
        kubectl(kubeconfig, "delete", "namespace", extra, "--wait=false", check=False)


def test_prune_of_most_objects_needs_explicit_prune(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    folder = tmp_path / "app"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{K: v}}\n"
        )
    applied = _deployer("apply", "-f", str(folder), *common)
    assert applied.returncode == 0, applied.stderr
    (folder / "b.yaml").unlink()
    (folder / "c.yaml").unlink()

    dry = _deployer("apply", "-f", str(folder), "--dry-run=server", *common)
    assert dry.returncode == 1
    assert "the prune would delete 2 of its 3 objects" in dry.stderr
    stopped = _deployer("apply", "-f", str(folder), *common)
    assert stopped.returncode == 1
    assert f"ConfigMap {namespace}/b, ConfigMap {namespace}/c." in stopped.stderr
    pruned = _deployer("apply", "-f", str(folder), "--prune", *common)
    assert pruned.returncode == 0, pruned.stderr
    assert "2 pruned" in pruned.stdout


def test_quiet_apply_prints_only_result(kubeconfig: str, namespace: str, stack: str) -> None:
    common = ["--kubeconfig", kubeconfig, "-n", namespace]
    applied = _deployer("-q", "apply", "-f", stack, *common)
    assert applied.returncode == 0, applied.stderr
    assert applied.stderr == ""
    lines = applied.stdout.splitlines()
    assert len(lines) == 1, applied.stdout
    assert lines[0].startswith("applied 2 object(s) in ")
    as_json = _deployer("-q", "apply", "-f", stack, "-o", "json", *common)
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(line)["type"] for line in as_json.stdout.splitlines()] == ["result"]
    destroyed = _deployer("-q", "destroy", "-f", stack, *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert destroyed.stdout == "deleted 2 object(s)\n"


def test_quiet_apply_failure_prints_only_error(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "job.yaml"
    # The ConfigMap is applied and ready before the Job's pod fails.
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {A: b}\n---\n"
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n"
        "  backoffLimit: 0\n  template:\n    metadata:\n"
        "      annotations: {deployer.dev/sim: fail}\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: migrate, image: busybox}]\n"
    )
    done = _deployer("-q", "apply", "-f", str(path), "--kubeconfig", kubeconfig, "-n", namespace)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert "BackoffLimitExceeded" in done.stderr
