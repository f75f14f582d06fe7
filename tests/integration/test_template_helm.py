"""The helm template kind against the local control plane with the real helm binary."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS, deploy
from deployer.errors import ReadinessTimeout
from deployer.local import helm_binary
from deployer.model.events import ObjectEvent
from deployer.model.objects import Manifest
from deployer.model.status import State
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

CHARTS = Path(__file__).resolve().parent.parent / "charts"
WIDGET_CRD = "widgets.widgets.deployer-tests.example"
BAD_CRD = "gadgets.wrong-group.example"


@pytest.fixture
def cluster(kubeconfig: str, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    # helm reads KUBECONFIG, because a Cluster does not record its kubeconfig path.
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    return Cluster.connect(kubeconfig=kubeconfig)


def _context(
    cluster: Cluster, namespace: str, events: list[ObjectEvent] | None = None, **extra: Any
) -> TemplateContext:
    sink = events.append if events is not None else (lambda _event: None)
    return TemplateContext(
        cluster=cluster,
        base_dir=CHARTS,
        parameters={},
        workflow_parameters={},
        namespace=namespace,
        run_name="helm-test-abcde",
        node_name="helm-test-abcde.release",
        progress=sink,
        timeout_seconds=120.0,
        **extra,
    )


def _helm(kubeconfig: str, *args: str) -> Any:
    binary = helm_binary()
    assert binary is not None, "the helm binary is needed for these tests"
    done = subprocess.run(
        [str(binary), "--kubeconfig", kubeconfig, *args, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def _get(kubeconfig: str, namespace: str, *what: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(kubeconfig, "get", *what, "-n", namespace, "-o", "json").stdout))


@pytest.fixture
def no_test_crds(kubeconfig: str) -> Iterator[None]:
    for name in (WIDGET_CRD, BAD_CRD):
        kubectl(kubeconfig, "delete", "crd", name, "--ignore-not-found", "--wait=true")
    yield
    for name in (WIDGET_CRD, BAD_CRD):
        kubectl(kubeconfig, "delete", "crd", name, "--ignore-not-found", "--wait=false")


def test_helm_install_upgrade_uninstall(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    values_file = tmp_path / "webapp-values.yaml"
    values_file.write_text("message: from-values-file\nservice:\n  port: 9090\n")
    events: list[ObjectEvent] = []
    outputs = [
        {
            "name": "port",
            "valueFrom": {"jsonPath": "{.spec.ports[0].port}", "object": "Service/web"},
        }
    ]
    spec: dict[str, Any] = {"chart": "webapp", "release": "web", "namespace": namespace}
    ctx = _context(cluster, namespace, events, output_parameters=outputs)

    installed = KINDS["helm"].run({**spec, "valuesFiles": [str(values_file)]}, ctx)
    assert installed.phase == "Succeeded", installed.message
    assert installed.outputs == {"port": "9090"}
    releases = _helm(kubeconfig, "list", "-n", namespace)
    assert [(r["name"], r["revision"]) for r in releases] == [("web", "1")]
    deployment = _get(kubeconfig, namespace, "deployment", "web")
    assert deployment["status"]["readyReplicas"] == 1
    config = _get(kubeconfig, namespace, "configmap", "web-config")
    assert config["data"] == {"message": "from-values-file", "extra": "true"}
    ready = {(str(e.ref), e.state) for e in events}
    assert (f"Deployment.apps {namespace}/web", State.READY) in ready

    again = KINDS["helm"].run({**spec, "valuesFiles": [str(values_file)]}, ctx)
    assert again.phase == "Succeeded", again.message
    assert "revision 1 (unchanged)" in again.message
    assert [r["revision"] for r in _helm(kubeconfig, "list", "-n", namespace)] == ["1"]

    upgrade = {
        **spec,
        "valuesFiles": [str(values_file)],
        "values": {"replicaCount": 2, "extraConfig": None},
        "stackValues": "message: from-stack",
    }
    upgraded = KINDS["helm"].run(upgrade, ctx)
    assert upgraded.phase == "Succeeded", upgraded.message
    assert [r["revision"] for r in _helm(kubeconfig, "list", "-n", namespace)] == ["2"]
    deployment = _get(kubeconfig, namespace, "deployment", "web")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["status"]["readyReplicas"] == 2
    config = _get(kubeconfig, namespace, "configmap", "web-config")
    assert config["data"] == {"message": "from-stack"}

    removed = KINDS["helm"].destroy(spec, ctx)
    assert removed.phase == "Succeeded", removed.message
    assert _helm(kubeconfig, "list", "-n", namespace) == []
    for kind, name in (("deployment", "web"), ("service", "web"), ("configmap", "web-config")):
        lookup = kubectl(kubeconfig, "get", kind, name, "-n", namespace, check=False)
        assert lookup.returncode != 0, f"{kind} {name} still exists after destroy"
        assert "NotFound" in lookup.stderr


def test_helm_destroy_of_missing_release_succeeds(cluster: Cluster, namespace: str) -> None:
    spec = {"chart": "webapp", "release": "never-installed", "namespace": namespace}
    result = KINDS["helm"].destroy(spec, _context(cluster, namespace))
    assert result.phase == "Succeeded", result.message
    assert "not installed" in result.message


@pytest.mark.usefixtures("no_test_crds")
def test_helm_upgrade_applies_new_crd_first(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    events: list[ObjectEvent] = []
    ctx = _context(cluster, namespace, events)
    spec = {"release": "widgets", "namespace": namespace}

    first = KINDS["helm"].run({**spec, "chart": "widgets-v1"}, ctx)
    assert first.phase == "Succeeded", first.message
    missing = kubectl(kubeconfig, "get", "crd", WIDGET_CRD, check=False)
    assert missing.returncode != 0

    second = KINDS["helm"].run({**spec, "chart": "widgets-v2"}, ctx)
    assert second.phase == "Succeeded", second.message
    crd = json.loads(kubectl(kubeconfig, "get", "crd", WIDGET_CRD, "-o", "json").stdout)
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established[0]["status"] == "True"
    widget = _get(kubeconfig, namespace, "widgets.widgets.deployer-tests.example", "widgets-first")
    assert widget["spec"] == {"size": 3}
    order = [str(e.ref) for e in events if e.state == State.READY]
    crd_ready = order.index(f"CustomResourceDefinition.apiextensions.k8s.io {WIDGET_CRD}")
    widget_ready = order.index(f"Widget.widgets.deployer-tests.example {namespace}/widgets-first")
    assert crd_ready < widget_ready
    assert [r["revision"] for r in _helm(kubeconfig, "list", "-n", namespace)] == ["2"]


@pytest.mark.usefixtures("no_test_crds")
def test_helm_rejected_crd_fails_before_templates(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    ctx = _context(cluster, namespace)
    spec = {"release": "widgets", "namespace": namespace}
    first = KINDS["helm"].run({**spec, "chart": "widgets-v1"}, ctx)
    assert first.phase == "Succeeded", first.message

    failed = KINDS["helm"].run({**spec, "chart": "widgets-bad"}, ctx)
    assert failed.phase == "Failed"
    assert BAD_CRD in failed.message
    assert "no chart template was applied" in failed.message
    releases = _helm(kubeconfig, "list", "-n", namespace)
    assert [(r["revision"], r["chart"]) for r in releases] == [("1", "widgets-1.0.0")]
    settings = _get(kubeconfig, namespace, "configmap", "widgets-settings")
    assert settings["data"] == {"version": "1"}


def test_helm_missing_chart_is_an_input_error(cluster: Cluster, namespace: str) -> None:
    result = KINDS["helm"].run(
        {"chart": "no-such-chart-folder", "release": "x"}, _context(cluster, namespace)
    )
    assert result.phase == "Error"
    assert "no-such-chart-folder" in result.message


def test_helm_crashlooping_release_fails_fast(cluster: Cluster, namespace: str) -> None:
    spec = {
        "chart": "webapp",
        "release": "crashing",
        "namespace": namespace,
        "values": {"podAnnotations": {"deployer.dev/sim": "crashloop"}},
        "timeout": "4m",
    }
    started = time.monotonic()
    result = KINDS["helm"].run(spec, _context(cluster, namespace))
    elapsed = time.monotonic() - started
    assert result.phase == "Failed"
    assert "CrashLoopBackOff" in result.message
    assert f"Deployment {namespace}/crashing" in result.message
    assert elapsed < 120, f"took {elapsed:.0f} s; a crash loop must fail well before 4m"


def _mark_pending_upgrade(kubeconfig: str, namespace: str, secret: str) -> None:
    """Rewrite a helm release record as if a helm upgrade had been killed midway."""
    stored = _get(kubeconfig, namespace, "secret", secret)
    encoded = base64.b64decode(stored["data"]["release"])
    record = json.loads(gzip.decompress(base64.b64decode(encoded)))
    record["info"]["status"] = "pending-upgrade"
    packed = base64.b64encode(gzip.compress(json.dumps(record).encode()))
    stored["data"]["release"] = base64.b64encode(packed).decode()
    stored["metadata"]["labels"]["status"] = "pending-upgrade"
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        stored["metadata"].pop(key, None)
    subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "replace", "-f", "-"],
        input=json.dumps(stored),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_helm_recovers_release_stuck_pending(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    spec: dict[str, Any] = {"chart": "webapp", "release": "stuck", "namespace": namespace}
    ctx = _context(cluster, namespace)
    assert KINDS["helm"].run(spec, ctx).phase == "Succeeded"
    second = KINDS["helm"].run({**spec, "values": {"message": "second"}}, ctx)
    assert second.phase == "Succeeded", second.message
    _mark_pending_upgrade(kubeconfig, namespace, "sh.helm.release.v1.stuck.v2")
    assert _helm(kubeconfig, "list", "-n", namespace, "--pending") != []

    third = KINDS["helm"].run({**spec, "values": {"message": "third"}}, ctx)
    assert third.phase == "Succeeded", third.message
    history = _helm(kubeconfig, "history", "stuck", "-n", namespace)
    assert history[-1]["status"] == "deployed"
    assert "Rollback to 1" in [entry["description"] for entry in history]
    config = _get(kubeconfig, namespace, "configmap", "stuck-config")
    assert config["data"]["message"] == "third"


@pytest.mark.usefixtures("no_test_crds")
def test_helm_packaged_chart_applies_crds(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    binary = helm_binary()
    assert binary is not None
    subprocess.run(
        [str(binary), "package", str(CHARTS / "widgets-v2"), "-d", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    spec = {"chart": str(tmp_path / "widgets-2.0.0.tgz"), "release": "packed"}
    result = KINDS["helm"].run(spec, _context(cluster, namespace))
    assert result.phase == "Succeeded", result.message
    widget = _get(kubeconfig, namespace, "widgets.widgets.deployer-tests.example", "packed-first")
    assert widget["spec"] == {"size": 3}


def test_helm_edited_template_same_version_upgrades(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    chart = tmp_path / "webapp"
    shutil.copytree(CHARTS / "webapp", chart)
    spec = {"chart": str(chart), "release": "edited", "namespace": namespace}
    ctx = _context(cluster, namespace)
    assert KINDS["helm"].run(spec, ctx).phase == "Succeeded"

    template = chart / "templates" / "configmap.yaml"
    template.write_text(template.read_text() + '  edited: "yes"\n')
    result = KINDS["helm"].run(spec, ctx)
    assert result.phase == "Succeeded", result.message
    assert "revision 2 (upgraded)" in result.message
    config = _get(kubeconfig, namespace, "configmap", "edited-config")
    assert config["data"]["edited"] == "yes"


def test_helm_rerun_recreates_deleted_object(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    spec = {"chart": "webapp", "release": "repaired", "namespace": namespace}
    ctx = _context(cluster, namespace)
    assert KINDS["helm"].run(spec, ctx).phase == "Succeeded"
    kubectl(kubeconfig, "delete", "configmap", "repaired-config", "-n", namespace)

    result = KINDS["helm"].run(spec, ctx)

    assert result.phase == "Succeeded", result.message
    assert "revision 2 (upgraded)" in result.message
    config = _get(kubeconfig, namespace, "configmap", "repaired-config")
    assert config["data"]["message"]
    assert [r["status"] for r in _helm(kubeconfig, "list", "-n", namespace)] == ["deployed"]


def test_helm_wait_names_object_deleted_meanwhile(cluster: Cluster, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}}
    ctx = _context(cluster, namespace)
    deleted = deploy.with_namespace(ctx, [Manifest(body=body)], namespace=namespace)
    for applied, seen in ((True, "applied"), (False, "found")):
        with pytest.raises(ReadinessTimeout) as raised:
            deploy.wait_step(ctx, deleted, kind="helm", timeout=5, applied=applied)
        message = str(raised.value)
        assert f"ConfigMap {namespace}/gone" in message
        assert f"something deleted it after the step {seen} it" in message
        assert "Run the step again to recreate it" in message


def test_helm_invalid_release_name_is_input_error(cluster: Cluster, namespace: str) -> None:
    result = KINDS["helm"].run(
        {"chart": "webapp", "release": "Web_1"}, _context(cluster, namespace)
    )
    assert result.phase == "Error"
    assert "helm.release: release name 'Web_1' is invalid" in result.message


def test_helm_chart_typo_is_not_a_repo_chart(cluster: Cluster, namespace: str) -> None:
    # `webapp` is a chart folder in CHARTS, so `webapp/templats` is a path in it.
    result = KINDS["helm"].run(
        {"chart": "webapp/templats", "release": "typo"}, _context(cluster, namespace)
    )
    assert result.phase == "Error"
    assert "(did you mean webapp/templates?)" in result.message
    assert f"{CHARTS / 'webapp'} is a local folder" in result.message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("x: {{ .Values.nope.deeper }}\n", "broken.yaml:1:"),
        ("x: {{ .Values.message -}\n", "parse error at (webapp/templates/broken.yaml:1)"),
        ('x: {{ required "set nope" .Values.nope }}\n', "set nope"),
        ("a: [\n", "YAML parse error on webapp/templates/broken.yaml"),
    ],
)
def test_helm_template_render_error_is_error_phase(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path, template: str, message: str
) -> None:
    chart = tmp_path / "webapp"
    shutil.copytree(CHARTS / "webapp", chart)
    (chart / "templates" / "broken.yaml").write_text(template)
    spec = {"chart": str(chart), "release": "broken", "namespace": namespace}

    result = KINDS["helm"].run(spec, _context(cluster, namespace))

    assert result.phase == "Error", result.message
    assert message in result.message
    assert _helm(kubeconfig, "list", "-n", namespace) == []


def test_helm_unknown_repository_is_input_error(cluster: Cluster, namespace: str) -> None:
    result = KINDS["helm"].run(
        {"chart": "nosuchrepo/web", "release": "web"}, _context(cluster, namespace)
    )
    assert result.phase == "Error", result.message
    assert "repo nosuchrepo not found" in result.message
    assert "helm repo add" in result.message
