"""Static checks of the demo content: kubernetes-spec/, workflows/ and stacks/, no cluster."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.engine.stack import find_stack, load_stack
from deployer.engine.stack_parameters import (
    effective_parameters,
    resolve_parameters,
    with_overrides,
)
from deployer.engine.stack_values import add_stack_values
from deployer.engine.workflow.parse import load_workflow
from deployer.engine.workflow.submit import prepare
from deployer.errors import InputError
from deployer.model.objects import Manifest
from deployer.model.workflow import Workflow
from deployer.sources.jsonnet import load_jsonnet
from deployer.sources.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "kubernetes-spec"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.yaml"))
STACKS = sorted((ROOT / "stacks").glob("*.yaml"))
PLACEHOLDER = re.compile(r"\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}")

# Raw manifest folders; charts/ and jsonnet/ are rendered by Helm and Jsonnet instead.
RAW_FOLDERS = (
    "logging",
    "logging-cr",
    "monitoring",
    "monitoring-cfg",
    "monitoring-cr",
    "sock-shop-db",
    "sock-shop-persist-db",
    "sock-shop-usvc",
    "sock-shop-zipkin-usvc",
    "zipkin",
)
CURRENT_API_VERSIONS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
}
# Service names the services use to find each other; they must stay exactly these.
SERVICE_NAMES = {
    "sock-shop-usvc": {
        "carts",
        "catalogue",
        "front-end",
        "orders",
        "payment",
        "queue-master",
        "rabbitmq",
        "shipping",
        "user",
    },
    "sock-shop-db": {"carts-db", "catalogue-db", "orders-db", "session-db", "user-db"},
    "sock-shop-persist-db": {"carts-db", "catalogue-db", "orders-db", "session-db", "user-db"},
    "monitoring": {"prometheus", "kube-state-metrics", "node-exporter", "grafana"},
    "logging": {"elasticsearch", "kibana"},
}
SCRAPED_SERVICES = {
    "carts",
    "catalogue",
    "front-end",
    "orders",
    "payment",
    "queue-master",
    "shipping",
    "user",
    "rabbitmq",
}
ALL_FILES = sorted(p for folder in RAW_FOLDERS for p in (SPEC / folder).glob("*.yaml"))


def parameter_sets(workflow_file: Path) -> list[dict[str, str]]:
    """Return the workflow's defaults plus its parameters in every stack that uses it."""
    workflow = load_workflow(workflow_file)
    sets = [{p.name: p.value or p.default or "" for p in workflow.arguments}]
    for stack_file in STACKS:
        stack = load_stack(stack_file)
        for entry in stack.workflows:
            if entry.file == workflow_file.resolve():
                sets.append(effective_parameters(stack, entry, workflow))
    return sets


def substitute(value: Any, parameters: Mapping[str, str]) -> Any:
    """Replace `{{workflow.parameters.X}}` in every string of a template body."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: parameters[match.group(1)], value)
    if isinstance(value, list):
        return [substitute(item, parameters) for item in value]
    if isinstance(value, Mapping):
        return {key: substitute(item, parameters) for key, item in value.items()}
    return value


def template_bodies(workflow: Workflow, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, template in workflow.templates.items():
        if template.kind == kind:
            yield name, template.body


def rendered_manifests(workflow_file: Path) -> Iterator[tuple[str, Path, list[Manifest]]]:
    """Render every `manifests` path of a workflow with each of its parameter sets."""
    workflow = load_workflow(workflow_file)
    for parameters in parameter_sets(workflow_file):
        for name, body in template_bodies(workflow, "manifests"):
            spec = substitute(body, parameters)
            for path in spec["paths"]:
                loaded = load_paths(
                    [path], parameters=spec.get("parameters", {}), base_dir=workflow_file.parent
                )
                yield name, (workflow_file.parent / path).resolve(), loaded


def containers(manifest: Manifest) -> list[Mapping[str, Any]]:
    spec = manifest.body.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else spec
    return [*pod.get("containers", []), *pod.get("initContainers", [])]


def load_file(file: Path) -> list[Manifest]:
    """Load one raw file with placeholder parameters for the names it uses."""
    names = set(re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", file.read_text()))
    return load_paths([file], parameters={name: f"x-{name}".replace("_", "-") for name in names})


def test_raw_folders_have_files() -> None:
    for folder in RAW_FOLDERS:
        assert list((SPEC / folder).glob("*.yaml")), folder


@pytest.mark.parametrize("workflow_file", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_manifests_render(workflow_file: Path) -> None:
    rendered = list(rendered_manifests(workflow_file))
    assert rendered
    for template, path, manifests in rendered:
        assert manifests, f"{workflow_file.name} template {template}: {path} gives no objects"


def test_every_spec_file_used_by_a_workflow() -> None:
    used: set[Path] = set()
    for workflow_file in WORKFLOWS:
        for _, path, _ in rendered_manifests(workflow_file):
            used.update(path.rglob("*.yaml") if path.is_dir() else [path])
    unused = [str(f.relative_to(SPEC)) for f in ALL_FILES if f.resolve() not in used]
    assert unused == []


@pytest.mark.parametrize("file", ALL_FILES, ids=lambda p: str(p.relative_to(SPEC)))
def test_one_object_per_file(file: Path) -> None:
    manifests = load_file(file)
    assert len(manifests) == 1
    manifest = manifests[0]
    suffix = {
        "Deployment": "dep",
        "StatefulSet": "sts",
        "DaemonSet": "ds",
        "Service": "svc",
        "ServiceAccount": "sa",
        "ClusterRole": "cr",
        "ClusterRoleBinding": "crb",
        "Secret": "secret",
        "Job": "job",
        "Namespace": "ns",
    }.get(manifest.kind)
    if suffix:
        assert file.name == f"{manifest.name}-{suffix}.yaml" or manifest.kind == "Namespace"
    else:
        assert file.stem == manifest.name


@pytest.mark.parametrize("file", ALL_FILES, ids=lambda p: str(p.relative_to(SPEC)))
def test_api_version_current(file: Path) -> None:
    (manifest,) = load_file(file)
    assert manifest.api_version in CURRENT_API_VERSIONS


@pytest.mark.parametrize("file", ALL_FILES, ids=lambda p: str(p.relative_to(SPEC)))
def test_images_pinned(file: Path) -> None:
    (manifest,) = load_file(file)
    for container in containers(manifest):
        image = container["image"]
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert tag != "latest", image
        assert re.search(r"\d", tag), f"{image}: the tag names no version"


WORKLOAD_FILES = [f for f in ALL_FILES if re.search(r"-(dep|sts|ds|job)\.yaml$", f.name)]


@pytest.mark.parametrize("file", WORKLOAD_FILES, ids=lambda p: str(p.relative_to(SPEC)))
def test_workloads_select_linux_nodes(file: Path) -> None:
    (manifest,) = load_file(file)
    assert manifest.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    pod = manifest.body["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    if manifest.kind != "Job":
        selector = manifest.body["spec"]["selector"]["matchLabels"]
        labels = manifest.body["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()


@pytest.mark.parametrize("folder", sorted(SERVICE_NAMES))
def test_service_names_match_wiring(folder: str) -> None:
    names = set()
    for file in (SPEC / folder).glob("*-svc.yaml"):
        (manifest,) = load_file(file)
        assert manifest.kind == "Service"
        names.add(manifest.name)
    assert names == SERVICE_NAMES[folder]


def test_app_services_scraped() -> None:
    for name in SCRAPED_SERVICES:
        (manifest,) = load_file(SPEC / "sock-shop-usvc" / f"{name}-svc.yaml")
        assert manifest.annotations.get("prometheus.io/scrape") == "true", name


def test_app_containers_run_as_non_root() -> None:
    for file in (SPEC / "sock-shop-usvc").glob("*-dep.yaml"):
        (manifest,) = load_file(file)
        main = containers(manifest)[0]
        context = main["securityContext"]
        if manifest.name == "rabbitmq":
            continue
        assert context["runAsUser"] == 10001, file.name
        assert context["readOnlyRootFilesystem"] is True, file.name
        assert context["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}


def test_rabbitmq_has_exporter_sidecar() -> None:
    (manifest,) = load_file(SPEC / "sock-shop-usvc" / "rabbitmq-dep.yaml")
    images = [c["image"].split(":")[0] for c in containers(manifest)]
    assert images == ["rabbitmq", "kbudde/rabbitmq-exporter"]


def test_persistent_databases_claim_512mi() -> None:
    for file in (SPEC / "sock-shop-persist-db").glob("*-sts.yaml"):
        (manifest,) = load_file(file)
        (claim,) = manifest.body["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == "512Mi"
        assert claim["spec"]["storageClassName"] == "x-storage-class"


def test_prometheus_config_names_no_alertmanager() -> None:
    (manifest,) = load_file(SPEC / "monitoring-cfg" / "prometheus-configmap.yaml")
    assert "alertmanager" not in manifest.body["data"]["prometheus.yml"]


def test_zipkin_variants_send_spans_to_zipkin() -> None:
    for name in ("catalogue", "payment", "user"):
        (manifest,) = load_file(SPEC / "sock-shop-zipkin-usvc" / f"{name}-dep.yaml")
        env = {e["name"]: e.get("value") for e in containers(manifest)[0].get("env", [])}
        assert (
            env["ZIPKIN"] == "http://zipkin.x-zipkin-namespace.svc.cluster.local:9411/api/v1/spans"
        )


def test_dashboards_jsonnet_gives_configmap() -> None:
    workflow = load_workflow(ROOT / "workflows" / "monitoring-workflow.yaml")
    ((_, body),) = template_bodies(workflow, "jsonnet")
    main = (ROOT / "workflows" / body["main"]).resolve()
    (manifest,) = load_jsonnet(main, ext_vars={"namespace": "mon", "app_namespace": "shop"})
    assert manifest.kind == "ConfigMap"
    assert manifest.name == "grafana-dashboards"
    assert manifest.namespace == "mon"
    for key, text in manifest.body["data"].items():
        request = json.loads(text)
        assert request["overwrite"] is True, key
        assert request["dashboard"]["uid"] == key.removesuffix(".json")
        panels = request["dashboard"]["panels"]
        exprs = [target["expr"] for panel in panels for target in panel["targets"]]
        assert exprs, key
        for expr in exprs:
            assert 'namespace="shop"' in expr, expr


def test_import_job_runs_after_grafana() -> None:
    workflow = load_workflow(ROOT / "workflows" / "monitoring-workflow.yaml")
    tasks = {task.name: task for task in workflow.templates["monitoring"].dag}
    assert "grafana" in (tasks["import-dashboards"].depends or "")
    import_paths = workflow.templates["import-dashboards"].body["paths"]
    assert import_paths == ["../kubernetes-spec/monitoring/grafana-import-dashboards-job.yaml"]


@pytest.mark.parametrize("workflow_file", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses(workflow_file: Path) -> None:
    workflow = load_workflow(workflow_file)
    assert workflow.generate_name
    assert workflow.templates[workflow.entrypoint].kind == "dag"


@pytest.mark.parametrize("stack_file", STACKS, ids=lambda p: p.name)
def test_stack_loads(stack_file: Path) -> None:
    stack = load_stack(stack_file)
    assert stack.workflows
    for entry in stack.workflows:
        effective_parameters(stack, entry, load_workflow(entry.file))


def helm_binary() -> str | None:
    """Return the helm binary: DEPLOYER_HELM, else the local build cache, else PATH."""
    from deployer.local import helm_binary as built_helm

    given = os.environ.get("DEPLOYER_HELM")
    built = built_helm()
    return given or (str(built) if built else None) or shutil.which("helm")


def render_zipkin_chart() -> list[Manifest]:
    """Render the Zipkin chart with its default values into namespace `tracing`."""
    helm = helm_binary()
    if helm is None:
        pytest.skip("no helm binary: set DEPLOYER_HELM")
    done = subprocess.run(
        [helm, "template", "zipkin", str(SPEC / "charts" / "zipkin"), "--namespace", "tracing"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    from deployer.sources.loader import load_text

    return load_text(done.stdout, file="helm template")


def test_zipkin_chart_renders() -> None:
    manifests = render_zipkin_chart()
    names = {(m.kind, m.name) for m in manifests}
    assert names == {
        ("Secret", "zipkin-mysql"),
        ("Deployment", "zipkin-mysql"),
        ("Service", "zipkin-mysql"),
        ("Deployment", "zipkin"),
        ("Service", "zipkin"),
        ("CronJob", "zipkin-cron"),
    }
    for manifest in manifests:
        assert manifest.namespace == "tracing"
        for container in pod_containers(manifest):
            assert container["image"].rpartition(":")[2][0].isdigit()


def pod_containers(manifest: Manifest) -> list[Mapping[str, Any]]:
    """Return the containers of a workload, a CronJob's job template included."""
    if manifest.kind == "CronJob":
        pod = manifest.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return list(pod["containers"])
    return containers(manifest)


def mysql_credentials(container: Mapping[str, Any]) -> dict[str, Any]:
    env = {item["name"]: item for item in container.get("env", [])}
    return {
        name: env[name]["valueFrom"]["secretKeyRef"]
        for name in ("MYSQL_USER", "MYSQL_PASS")
        if name in env
    }


def test_zipkin_dependencies_run_as_cronjob() -> None:
    by_name = {(m.kind, m.name): m for m in render_zipkin_chart()}
    cron = by_name[("CronJob", "zipkin-cron")]
    assert cron.api_version == "batch/v1"
    assert cron.body["spec"]["schedule"] == "55 * * * *"
    assert cron.body["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    (container,) = pod["containers"]
    # The image's default command runs the aggregation once; nothing may replace it.
    assert "command" not in container
    assert "args" not in container
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["STORAGE_TYPE"] == "mysql"
    assert env["MYSQL_HOST"] == "zipkin-mysql"


def test_zipkin_logs_in_with_mysql_account() -> None:
    by_name = {(m.kind, m.name): m for m in render_zipkin_chart()}
    secret = by_name[("Secret", "zipkin-mysql")]
    assert secret.body["stringData"] == {"user": "zipkin", "password": "zipkin"}
    for key in (("Deployment", "zipkin"), ("CronJob", "zipkin-cron")):
        (container,) = pod_containers(by_name[key])
        assert mysql_credentials(container) == {
            "MYSQL_USER": {"name": "zipkin-mysql", "key": "user"},
            "MYSQL_PASS": {"name": "zipkin-mysql", "key": "password"},
        }, key


@pytest.mark.parametrize(
    "file",
    [
        SPEC / "sock-shop-db" / "catalogue-db-dep.yaml",
        SPEC / "sock-shop-persist-db" / "catalogue-db-sts.yaml",
    ],
    ids=lambda p: p.parent.name,
)
def test_catalogue_db_writable_paths(file: Path) -> None:
    (manifest,) = load_file(file)
    (container,) = containers(manifest)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    # Data, temporary files, and the socket and pid file of mysqld.
    assert {"/var/lib/mysql", "/tmp", "/var/run/mysqld"} <= mounts.keys()
    for path in ("/var/lib/mysql", "/tmp", "/var/run/mysqld"):
        assert not mounts[path].get("readOnly"), path
    pod = manifest.body["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/var/run/mysqld"]["name"]]


def test_fluentd_position_files_writable() -> None:
    (manifest,) = load_file(SPEC / "logging" / "fluentd-ds.yaml")
    (container,) = containers(manifest)
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    # The image writes its tail positions to /var/log/$FLUENT_POS_EXTRA_DIR/.
    positions = f"/var/log/{env['FLUENT_POS_EXTRA_DIR']}"
    assert positions in mounts
    assert not mounts[positions].get("readOnly")
    # No read-only mount may cover the position folder.
    for path, mount in mounts.items():
        if mount.get("readOnly"):
            assert not positions.startswith(path.rstrip("/") + "/"), path
    for path in ("/var/log/containers", "/var/log/pods", "/var/lib/docker/containers"):
        assert mounts[path]["readOnly"] is True, path
    assert env["FLUENTD_SYSTEMD_CONF"] == "disable"


EXPORTER_WORKLOADS = {
    "kube-state-metrics": "kube-state-metrics-dep.yaml",
    "node-exporter": "node-exporter-ds.yaml",
}


def test_exporters_scraped_once() -> None:
    (config,) = load_file(SPEC / "monitoring-cfg" / "prometheus-configmap.yaml")
    scrape_configs = yaml.safe_load(config.body["data"]["prometheus.yml"])["scrape_configs"]
    jobs = {job["job_name"] for job in scrape_configs}
    # Each exporter has a job of its own, so the annotated-endpoints and annotated-pods
    # jobs must not find it as well.
    assert {"kube-state-metrics", "node-exporter", "kubernetes-service-endpoints"} <= jobs
    for name, workload_file in EXPORTER_WORKLOADS.items():
        (service,) = load_file(SPEC / "monitoring" / f"{name}-svc.yaml")
        assert "prometheus.io/scrape" not in service.annotations, name
        (workload,) = load_file(SPEC / "monitoring" / workload_file)
        pod_annotations = workload.body["spec"]["template"]["metadata"].get("annotations", {})
        assert "prometheus.io/scrape" not in pod_annotations, name


def write_stack(folder: Path, spec: str) -> Path:
    """Write a stack file next to a copy of the logging workflow and return its path."""
    (folder / "wf.yaml").write_text((ROOT / "workflows" / "logging-workflow.yaml").read_text())
    file = folder / "stack.yaml"
    file.write_text(f"apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n{spec}")
    return file


def test_stack_layers_parameters(tmp_path: Path) -> None:
    file = write_stack(
        tmp_path,
        "  parameters: {namespace: from-stack, unused: x}\n  workflows:\n  - file: wf.yaml\n",
    )
    stack = load_stack(file)
    (entry,) = stack.workflows
    workflow = load_workflow(entry.file)
    assert effective_parameters(stack, entry, workflow) == {"namespace": "from-stack"}
    overridden = with_overrides(stack, {"namespace": "from-flag"})
    (entry,) = overridden.workflows
    assert effective_parameters(overridden, entry, workflow) == {"namespace": "from-flag"}


def test_stack_entry_parameter_beats_stack(tmp_path: Path) -> None:
    file = write_stack(
        tmp_path,
        "  parameters: {namespace: from-stack}\n"
        "  workflows:\n  - file: wf.yaml\n    parameters: {namespace: from-entry}\n",
    )
    stack = load_stack(file)
    (entry,) = stack.workflows
    assert resolve_parameters(stack, entry, load_workflow(entry.file)) == {
        "namespace": "from-entry"
    }


def test_stack_rejects_undeclared_entry_parameter(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  workflows:\n  - file: wf.yaml\n    parameters: {nope: x}\n")
    stack = load_stack(file)
    (entry,) = stack.workflows
    with pytest.raises(InputError, match="declares no parameter nope") as caught:
        resolve_parameters(stack, entry, load_workflow(entry.file))
    assert caught.value.line == 6  # the line of `parameters: {nope: x}`


def test_stack_rejects_unknown_override(tmp_path: Path) -> None:
    stack = load_stack(write_stack(tmp_path, "  workflows:\n  - file: wf.yaml\n"))
    with pytest.raises(InputError, match="declares parameter nope"):
        with_overrides(stack, {"nope": "x"})


def test_stack_rejects_unknown_field(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  workflow: []\n")
    with pytest.raises(InputError, match=r"not supported: spec\.workflow"):
        load_stack(file)


def test_stack_rejects_missing_workflow_file(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  workflows:\n  - file: missing.yaml\n")
    with pytest.raises(InputError, match="workflow file not found"):
        load_stack(file)


def test_stack_rejects_unquoted_yes(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  parameters: {tracing: yes}\n  workflows:\n  - file: wf.yaml\n")
    with pytest.raises(InputError, match='quote it: "yes"'):
        load_stack(file)


def demo_parameters(stack_name: str, overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    """Return each entry's final parameters in a stack of stacks/ after `-p` overrides."""
    stack = with_overrides(load_stack(ROOT / "stacks" / f"{stack_name}.yaml"), overrides)
    return {
        entry.label: effective_parameters(stack, entry, load_workflow(entry.file))
        for entry in stack.workflows
    }


def test_override_scoped_to_one_entry() -> None:
    resolved = demo_parameters("demo", {"sock-shop.namespace": "shop"})
    assert resolved["sock-shop"]["namespace"] == "shop"
    assert resolved["monitoring"]["namespace"] == "monitoring"
    assert resolved["logging"]["namespace"] == "logging"


def test_override_of_shared_parameter_reaches_declarers() -> None:
    resolved = demo_parameters("demo", {"app_namespace": "shop"})
    assert resolved["monitoring"]["app_namespace"] == "shop"
    assert resolved["sock-shop"]["namespace"] == "sock-shop"


def test_override_moves_app_and_dashboards_together() -> None:
    resolved = demo_parameters("demo", {"sock-shop.namespace": "shop", "app_namespace": "shop"})
    assert resolved["sock-shop"]["namespace"] == "shop"
    assert resolved["monitoring"]["app_namespace"] == "shop"
    assert resolved["monitoring"]["namespace"] == "monitoring"


def test_override_rejects_ambiguous_name() -> None:
    stack = load_stack(ROOT / "stacks" / "demo.yaml")
    with pytest.raises(InputError, match="-p namespace is ambiguous") as raised:
        with_overrides(stack, {"namespace": "shop"})
    message = str(raised.value)
    assert "sock-shop: sock-shop, monitoring: monitoring, logging: logging" in message
    assert "-p sock-shop.namespace=VALUE" in message


def test_override_rejects_unknown_entry() -> None:
    stack = load_stack(ROOT / "stacks" / "demo.yaml")
    with pytest.raises(InputError, match="has no workflow entry shop") as raised:
        with_overrides(stack, {"shop.namespace": "x"})
    assert "entries: sock-shop, monitoring, logging" in str(raised.value)


def test_override_rejects_parameter_entry_lacks() -> None:
    stack = load_stack(ROOT / "stacks" / "demo.yaml")
    with pytest.raises(InputError, match=r"logging-workflow\.yaml declares no parameter tracing"):
        with_overrides(stack, {"logging.tracing": "false"})


def test_override_same_value_everywhere_is_allowed(tmp_path: Path) -> None:
    file = write_stack(
        tmp_path,
        "  workflows:\n  - file: wf.yaml\n    parameters: {namespace: a}\n"
        "  - file: wf.yaml\n    name: again\n    parameters: {namespace: a}\n",
    )
    stack = with_overrides(load_stack(file), {"namespace": "b"})
    assert [entry.parameters["namespace"] for entry in stack.workflows] == ["b", "b"]


def test_stack_entry_name_defaults_to_file_stem(tmp_path: Path) -> None:
    (entry,) = load_stack(write_stack(tmp_path, "  workflows:\n  - file: wf.yaml\n")).workflows
    assert entry.name == ""
    assert entry.label == "wf"


def test_stack_rejects_duplicate_entry_names(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  workflows:\n  - file: wf.yaml\n  - file: wf.yaml\n")
    with pytest.raises(InputError, match="two workflow entries are called wf") as raised:
        load_stack(file)
    assert raised.value.line == 6


def test_stack_rejects_dotted_entry_name(tmp_path: Path) -> None:
    file = write_stack(tmp_path, "  workflows:\n  - file: wf.yaml\n    name: a.b\n")
    with pytest.raises(InputError, match="name must be a non-empty string without dots"):
        load_stack(file)


HELM_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: web-}
spec:
  entrypoint: web
  templates:
  - name: web
    helm:
      chart: chart
      values: {message: from-workflow}
  - name: traced
    helm:
      chart: chart
      stackValues: "replicaCount: 2"
  - name: config
    manifests: {paths: [config.yaml]}
"""


def helm_stack(folder: Path, values: str) -> Path:
    """Write a stack whose one entry gives Helm values to HELM_WORKFLOW's templates."""
    (folder / "wf.yaml").write_text(HELM_WORKFLOW)
    # Validation checks that the chart and manifest paths exist beside the workflow.
    (folder / "chart").mkdir()
    (folder / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    file = folder / "stack.yaml"
    file.write_text(
        "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n"
        f"  workflows:\n  - file: wf.yaml\n    values:\n{values}"
    )
    return file


def test_stack_values_become_top_layer(tmp_path: Path) -> None:
    stack = load_stack(
        helm_stack(
            tmp_path,
            "      web: {message: from-stack, extraConfig: null}\n"
            "      traced: {replicaCount: 3}\n",
        )
    )
    (entry,) = stack.workflows
    prepared = prepare(entry.file)
    workflow, document = add_stack_values(stack, entry, prepared.workflow, prepared.document)
    web = [{"message": "from-stack", "extraConfig": None}]
    traced = ["replicaCount: 2", {"replicaCount": 3}]
    assert workflow.templates["web"].body["stackValues"] == web
    assert workflow.templates["web"].body["values"] == {"message": "from-workflow"}
    assert workflow.templates["traced"].body["stackValues"] == traced
    written = {item["name"]: item for item in document["spec"]["templates"]}
    assert written["web"]["helm"]["stackValues"] == web
    assert written["traced"]["helm"]["stackValues"] == traced
    assert "stackValues" not in prepared.workflow.templates["web"].body
    assert "stackValues" not in prepared.document["spec"]["templates"][0]["helm"]


def test_stack_values_reject_non_helm_template(tmp_path: Path) -> None:
    stack = load_stack(helm_stack(tmp_path, "      config: {a: 1}\n      nope: {a: 1}\n"))
    (entry,) = stack.workflows
    prepared = prepare(entry.file)
    with pytest.raises(InputError, match="has no helm template config, nope") as raised:
        add_stack_values(stack, entry, prepared.workflow, prepared.document)
    assert "its helm templates: traced, web" in str(raised.value)
    assert raised.value.line == 7  # the line of `config:`, the first unknown name


def test_stack_values_must_be_mappings(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"values\.web must be a mapping of Helm values"):
        load_stack(helm_stack(tmp_path, "      web: [1, 2]\n"))


def test_find_stack_names_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as raised:
        find_stack("staging", stacks_dirs=[Path("stacks")])
    message = str(raised.value)
    assert str(tmp_path / "stacks" / "staging.yaml") in message
    assert f"(no such folder: {tmp_path / 'stacks'})" in message
    assert "--stacks-dir" in message
    assert "the stack file's path" in message


def test_catalog_names_missing_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from deployer.cli.stack_cmds import catalog_command

    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(catalog_command, [])
    assert isinstance(done.exception, InputError)
    message = str(done.exception)
    assert str(tmp_path / "stacks") in message
    assert str(tmp_path / "workflows") in message
    assert "--stacks-dir and --workflows-dir" in message


def test_find_stack_lists_searched_places(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"searched .*nope\.yaml"):
        find_stack("nope", stacks_dirs=[tmp_path])
    assert find_stack("demo", stacks_dirs=[ROOT / "stacks"]) == (ROOT / "stacks" / "demo.yaml")


def test_catalog_lists_workflows_and_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from deployer.cli.main import cli
    from deployer.cli.stack_cmds import register

    register(cli)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")
    done = CliRunner().invoke(cli, ["catalog"])
    assert done.exit_code == 0, done.output
    for file in WORKFLOWS:
        assert file.name in done.output
    for name in ("demo", "staging", "storage_class", "tracing"):
        assert name in done.output
    stacks = done.output[done.output.index("stacks") :]
    for entry_parameters in ("storage_class=standard", "tracing=true", "namespace=logging"):
        assert entry_parameters in stacks
    assert "sock-shop (sock-shop-workflow.yaml)" in stacks
    assert "(masked)" in done.output
    assert "| admin" not in done.output.replace("│", "|")


def test_up_rejects_ambiguous_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from deployer.cli.stack_cmds import up_command

    monkeypatch.chdir(ROOT)
    # The stack is checked before any cluster is contacted, so no kubeconfig is needed.
    done = CliRunner().invoke(up_command, ["demo", "-p", "namespace=shop"])
    assert isinstance(done.exception, InputError)
    assert "-p namespace is ambiguous" in str(done.exception)


def test_app_namespace_description_names_dashboards() -> None:
    workflow = load_workflow(ROOT / "workflows" / "monitoring-workflow.yaml")
    described = {parameter.name: parameter.description for parameter in workflow.arguments}
    assert described["app_namespace"] == (
        "Namespace of the sock-shop services whose metrics the Grafana dashboards show."
    )
