"""Finding the kubeconfig file that points helm at deployer's own cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from deployer.engine.templates.helm_target import context_of, kubeconfig_of
from deployer.errors import WorkflowError

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: {current}
contexts:
- name: dev
  context: {{cluster: dev-cluster, user: admin}}
- name: other
  context: {{cluster: other-cluster, user: admin}}
clusters:
- name: dev-cluster
  cluster: {{server: "https://127.0.0.1:6443"}}
- name: other-cluster
  cluster: {{server: "https://127.0.0.1:7443"}}
"""


@dataclass(frozen=True)
class Connection:
    context: str
    server: str


@dataclass(frozen=True)
class FakeCluster:
    connection: Connection


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    monkeypatch.setattr("deployer.local.cluster.list_names", lambda: [])
    return tmp_path


def _write(path: Path, current: str = "dev") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(KUBECONFIG.format(current=current))
    return path


def test_kubeconfig_found_in_env_list(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unrelated = isolated / "unrelated.yaml"
    unrelated.write_text("apiVersion: v1\nkind: Config\n")
    wanted = _write(isolated / "dev.yaml")
    monkeypatch.setenv("KUBECONFIG", f"{unrelated}:{wanted}")
    cluster = FakeCluster(Connection("other", "https://127.0.0.1:7443"))
    assert kubeconfig_of(cluster) == str(wanted)


def test_kubeconfig_found_in_home(isolated: Path) -> None:
    home_config = _write(isolated / "home" / ".kube" / "config")
    cluster = FakeCluster(Connection("dev", "https://127.0.0.1:6443/"))
    assert kubeconfig_of(cluster) == str(home_config)


def test_server_mismatch_is_not_used(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_write(isolated / "dev.yaml")))
    cluster = FakeCluster(Connection("dev", "https://127.0.0.1:9999"))
    with pytest.raises(WorkflowError) as raised:
        kubeconfig_of(cluster)
    assert "context dev at https://127.0.0.1:9999" in str(raised.value)
    assert "KUBECONFIG" in str(raised.value)


def test_empty_context_uses_current_context(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wanted = _write(isolated / "dev.yaml", current="other")
    monkeypatch.setenv("KUBECONFIG", str(wanted))
    cluster = FakeCluster(Connection("", "https://127.0.0.1:7443"))
    assert kubeconfig_of(cluster) == str(wanted)


def test_recorded_kubeconfig_wins(isolated: Path) -> None:
    @dataclass(frozen=True)
    class Recorded:
        connection: Connection
        kubeconfig: str

    cluster = Recorded(Connection("dev", "https://127.0.0.1:6443"), "/etc/deployer/kubeconfig")
    assert kubeconfig_of(cluster) == "/etc/deployer/kubeconfig"


def test_stand_in_cluster_uses_helm_defaults(isolated: Path) -> None:
    assert kubeconfig_of(object()) is None
    assert context_of(object()) is None


def test_context_name_is_passed_on() -> None:
    assert context_of(FakeCluster(Connection("dev", "https://x"))) == "dev"
