"""Helm inputs that need no helm binary: chart locations, values files, release manifests."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from deployer.errors import InputError
from deployer.sources.helm import (
    archive_crds,
    chart_location,
    crd_manifests,
    load_values_files,
    parse_release_manifest,
)

CHARTS = Path(__file__).resolve().parent.parent / "charts"

RELEASE_MANIFEST = """\
---
# Source: webapp/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  # Helm output may keep template markers for another tool on purpose.
  alert: "{{ $labels.instance }} is down"
---
# Source: webapp/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
"""


def test_local_chart_resolves_against_base_dir() -> None:
    location = chart_location("webapp", base_dir=CHARTS)
    assert location.local == (CHARTS / "webapp").resolve()
    assert location.ref == str((CHARTS / "webapp").resolve())


@pytest.mark.parametrize(
    "chart", ["oci://registry.example/charts/zipkin", "https://charts.example/zipkin-1.0.0.tgz"]
)
def test_remote_chart_is_passed_through(chart: str) -> None:
    location = chart_location(chart, base_dir=CHARTS)
    assert location.ref == chart
    assert location.local is None


def test_chart_name_with_repo() -> None:
    location = chart_location("zipkin", base_dir=CHARTS, repo="https://charts.example")
    assert location.ref == "zipkin"
    assert location.local is None


def test_repo_prefixed_name_without_local_path() -> None:
    assert chart_location("bitnami/redis", base_dir=CHARTS).ref == "bitnami/redis"


def test_chart_typo_under_local_folder_is_not_repo(tmp_path: Path) -> None:
    (tmp_path / "chart" / "mychart").mkdir(parents=True)

    with pytest.raises(InputError) as raised:
        chart_location("chart/mychrt", base_dir=tmp_path)

    message = str(raised.value)
    assert f"chart 'chart/mychrt' not found at {tmp_path / 'chart' / 'mychrt'}" in message
    assert "(did you mean chart/mychart?)" in message
    assert f"{tmp_path / 'chart'} is a local folder" in message
    assert "repo:" in message


def test_chart_under_local_file_is_repo(tmp_path: Path) -> None:
    (tmp_path / "bitnami").write_text("not a folder\n")

    assert chart_location("bitnami/redis", base_dir=tmp_path).ref == "bitnami/redis"


def test_missing_local_chart_is_named() -> None:
    with pytest.raises(InputError) as raised:
        chart_location("../charts/absent", base_dir=CHARTS)
    assert "../charts/absent" in str(raised.value)
    assert "relative to the workflow file" in str(raised.value)


def test_values_files_load_in_order(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("replicas: 1\n")
    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    (tmp_path / "b.yaml").write_text("replicas: 2\nimage: {tag: x}\n")
    layers = load_values_files(["a.yaml", "empty.yaml", "b.yaml"], base_dir=tmp_path)
    assert layers == [{"replicas": 1}, {}, {"replicas": 2, "image": {"tag": "x"}}]


def test_values_file_must_be_mapping(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError) as raised:
        load_values_files(["list.yaml"], base_dir=tmp_path)
    assert raised.value.file == str(tmp_path / "list.yaml")
    assert raised.value.line == 1


def test_missing_values_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.yaml"):
        load_values_files(["absent.yaml"], base_dir=tmp_path)


def test_release_manifest_keeps_sources_and_markers() -> None:
    manifests = parse_release_manifest(RELEASE_MANIFEST, release="web")
    assert [(m.kind, m.name) for m in manifests] == [
        ("ConfigMap", "web-config"),
        ("Service", "web"),
    ]
    assert manifests[0].source is not None
    assert manifests[0].source.file == "webapp/templates/configmap.yaml"
    assert manifests[1].source is not None
    assert manifests[1].source.file == "webapp/templates/service.yaml"
    assert manifests[0].body["data"]["alert"] == "{{ $labels.instance }} is down"


def test_release_manifest_rejects_non_objects() -> None:
    with pytest.raises(InputError, match="not a Kubernetes object"):
        parse_release_manifest("---\n# Source: x/templates/a.yaml\n- 1\n", release="x")


def test_crd_manifests_reject_other_kinds() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
    assert len(crd_manifests([crd], chart="widgets")) == 1
    with pytest.raises(InputError, match="'ConfigMap'"):
        crd_manifests([{"apiVersion": "v1", "kind": "ConfigMap"}], chart="widgets")


def _add(bundle: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    bundle.addfile(info, io.BytesIO(data))


def test_archive_crds_reads_top_chart_only(tmp_path: Path) -> None:
    crd = (
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata: {name: %s}\n"
    )
    archive = tmp_path / "widgets-2.0.0.tgz"
    with tarfile.open(archive, "w:gz") as bundle:
        _add(bundle, "widgets/Chart.yaml", "name: widgets\nversion: 2.0.0\n")
        _add(bundle, "widgets/crds/b.yaml", crd % "b.example.com")
        _add(bundle, "widgets/crds/nested/a.yml", crd % "a.example.com")
        _add(bundle, "widgets/crds/README.md", "not a CRD")
        _add(bundle, "widgets/charts/sub/crds/c.yaml", crd % "c.example.com")
    names = [body["metadata"]["name"] for body in archive_crds(archive)]
    assert names == ["b.example.com", "a.example.com"]


def test_unreadable_archive_is_named(tmp_path: Path) -> None:
    archive = tmp_path / "broken.tgz"
    archive.write_text("not gzip")
    with pytest.raises(InputError, match="cannot read chart archive"):
        archive_crds(archive)
