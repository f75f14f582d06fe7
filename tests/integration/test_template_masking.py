"""Outputs of the deployer kinds read from Secrets are masked in everything the run shows.

The steps that consume such an output still get its real value.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster.client import Cluster
from deployer.dashboard import DashboardServer, create_server
from tests.conftest import kubectl
from tests.integration.test_dashboard import get_json
from tests.integration.test_workflow_basics import deployer, nodes_by_display, run_pods

pytestmark = pytest.mark.cluster


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# The base64 text of each Secret value, as a jsonPath output reads it from `data`.
MANIFESTS_TOKEN = b64("manifests-token-1")
JSONNET_TOKEN = b64("jsonnet-token-2")
HELM_TOKEN = b64("helm-token-3")
CONFIG_PASSWORD = "config-password-4"
SECRET_VALUES = (MANIFESTS_TOKEN, JSONNET_TOKEN, HELM_TOKEN, CONFIG_PASSWORD)

APP = f"""\
apiVersion: v1
kind: Secret
metadata: {{name: app-secret}}
data: {{token: {MANIFESTS_TOKEN}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config}}
data: {{password: {CONFIG_PASSWORD}, mode: fast-mode}}
"""

JSONNET = f"""\
{{
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {{ name: 'js-secret' }},
  data: {{ token: '{JSONNET_TOKEN}' }},
}}
"""

CHART = """\
apiVersion: v2
name: secretchart
version: 0.1.0
"""

CHART_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: chart-secret
data:
  token: {{ .Values.token | b64enc }}
"""

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: masked-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: config, template: config}
      - {name: found, template: found, depends: config}
      - {name: settings, template: settings}
      - {name: web, template: web}
      - name: client
        template: client
        depends: found && settings && web
        arguments:
          parameters:
          - {name: tokens, value: "{{tasks.config.outputs.parameters.tok}} \
{{tasks.found.outputs.parameters.tok}} {{tasks.settings.outputs.parameters.tok}} \
{{tasks.web.outputs.parameters.tok}} {{tasks.config.outputs.parameters.pw}} \
{{tasks.config.outputs.parameters.mode}}"}
  - name: config
    manifests: {paths: [app]}
    outputs:
      parameters:
      - name: tok
        valueFrom: {jsonPath: "{.data.token}", object: Secret/app-secret}
      - name: pw
        valueFrom: {jsonPath: "{.data.password}", object: ConfigMap/app-config}
      - name: mode
        valueFrom: {jsonPath: "{.data.mode}", object: ConfigMap/app-config}
  - name: found
    fixture:
      resources: [{apiVersion: v1, kind: Secret, name: app-secret}]
    outputs:
      parameters:
      - name: tok
        valueFrom: {jsonPath: "{.data.token}"}
  - name: settings
    jsonnet: {main: secret.jsonnet}
    outputs:
      parameters:
      - name: tok
        valueFrom: {jsonPath: "{.data.token}", object: Secret/js-secret}
  - name: web
    helm:
      chart: chart
      release: masked
      values: {token: helm-token-3}
    outputs:
      parameters:
      - name: tok
        valueFrom: {jsonPath: "{.data.token}", object: Secret/chart-secret}
  - name: client
    inputs:
      parameters: [{name: tokens}]
    container:
      image: busybox:1.36
      args: ["{{inputs.parameters.tokens}}"]
"""


@pytest.fixture(scope="module")
def dashboard(kubeconfig: str) -> Iterator[DashboardServer]:
    server = create_server(Cluster.connect(kubeconfig=kubeconfig), address="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(timeout=10)


def write_workflow(folder: Path) -> Path:
    (folder / "app").mkdir()
    (folder / "app" / "app.yaml").write_text(APP)
    (folder / "secret.jsonnet").write_text(JSONNET)
    (folder / "chart" / "templates").mkdir(parents=True)
    (folder / "chart" / "Chart.yaml").write_text(CHART)
    (folder / "chart" / "templates" / "secret.yaml").write_text(CHART_SECRET)
    path = folder / "wf.yaml"
    path.write_text(WORKFLOW)
    return path


def stored_record(kubeconfig: str, run: str) -> str:
    """Return the JSON text of a run's record ConfigMap, unpacked when it is compressed."""
    found = kubectl(kubeconfig, "get", "configmap", run, "-n", "deployer-runs", "-o", "json")
    config_map: dict[str, Any] = json.loads(found.stdout)
    if "record.json" in config_map.get("data", {}):
        return str(config_map["data"]["record.json"])
    packed = base64.b64decode(config_map["binaryData"]["record.json.gz"])
    return gzip.decompress(packed).decode()


def test_secret_outputs_are_masked_in_record(
    kubeconfig: str,
    namespace: str,
    tmp_path: Path,
    dashboard: DashboardServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    path = write_workflow(tmp_path)

    done = deployer(kubeconfig, "submit", str(path), "-n", namespace, "-o", "json")

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    nodes = nodes_by_display(record)
    assert nodes["config"]["outputs"]["tok"] == "***"
    assert nodes["config"]["outputs"]["pw"] == "***"
    assert nodes["config"]["outputs"]["mode"] == "fast-mode"
    assert nodes["found"]["outputs"]["tok"] == "***"
    assert nodes["settings"]["outputs"]["tok"] == "***"
    assert nodes["web"]["outputs"]["tok"] == "***"

    pods = run_pods(kubeconfig, namespace, record["name"])
    args = pods[0]["spec"]["containers"][0]["args"]
    expected = [MANIFESTS_TOKEN, MANIFESTS_TOKEN, JSONNET_TOKEN, HELM_TOKEN, CONFIG_PASSWORD]
    assert args == [" ".join([*expected, "fast-mode"])]

    get_output = deployer(kubeconfig, "get", record["name"], "-n", namespace, "-o", "json")
    assert get_output.returncode == 0, get_output.stderr
    stored = stored_record(kubeconfig, record["name"])
    status, detail = get_json(dashboard.url + f"api/runs/{record['name']}")
    assert status == 200
    for value in SECRET_VALUES:
        assert value not in done.stdout, "submit -o json"
        assert value not in done.stderr, "submit progress output"
        assert value not in get_output.stdout, "deployer get -o json"
        assert value not in stored, "record ConfigMap"
        assert value not in json.dumps(detail), "dashboard /api/runs/RUN"
