"""Build the control plane's binaries from the Go module proxy, once per version.

kube-apiserver and friends cannot be `go install`ed: k8s.io/kubernetes replaces every
staging module (k8s.io/api, client-go, ...) with a local folder at v0.0.0. A small wrapper
module that requires k8s.io/kubernetes and maps each staging module to its published
version builds them. etcd needs a wrapper module too; kwok and helm install directly.
Binaries land in `<home>/bin/<component>-<version>/`; a finished build writes a stamp file,
so an interrupted build is redone and a finished one is never repeated.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import LocalClusterError
from deployer.local import paths

log = logging.getLogger(__name__)

STAMP = ".built"
Report = Callable[[str], None]


@dataclass(frozen=True)
class Component:
    """One cached build: its versions.toml key and the binaries it yields."""

    key: str
    binaries: tuple[str, ...]


KUBERNETES = Component(
    "kubernetes", ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
)
ETCD = Component("etcd", ("etcd",))
KWOK = Component("kwok", ("kwok",))
HELM = Component("helm", ("helm",))
ALL = (ETCD, KWOK, HELM, KUBERNETES)


def binary(component: Component, name: str) -> Path:
    """Path of a built binary (which may not exist yet)."""
    return paths.bin_dir(component.key, paths.versions()[component.key]) / name


def is_built(component: Component) -> bool:
    folder = paths.bin_dir(component.key, paths.versions()[component.key])
    return (folder / STAMP).exists() and all((folder / b).exists() for b in component.binaries)


def helm_binary() -> Path | None:
    """The helm to use: $DEPLOYER_HELM, else the cached build, else helm on PATH."""
    given = os.environ.get("DEPLOYER_HELM")
    if given:
        return Path(given)
    if is_built(HELM):
        return binary(HELM, "helm")
    found = shutil.which("helm")
    return Path(found) if found else None


def kubectl_binary() -> Path | None:
    """The kubectl to use: the cached build, else kubectl on PATH."""
    if is_built(KUBERNETES):
        return binary(KUBERNETES, "kubectl")
    found = shutil.which("kubectl")
    return Path(found) if found else None


def ensure_built(components: Sequence[Component] = ALL, *, report: Report = log.info) -> None:
    """Build every component that is not cached yet."""
    go = shutil.which("go")
    missing = [c for c in components if not is_built(c)]
    if missing and go is None:
        raise LocalClusterError(
            "the Go toolchain was not found on PATH; install Go "
            f"{paths.versions()['go']} or newer (it builds the control plane once)"
        )
    for component in missing:
        version = paths.versions()[component.key]
        report(f"building {component.key} {version} (first time only) ...")
        _build(component, version)
        report(f"built {component.key} {version}")


def _build(component: Component, version: str) -> None:
    target = paths.bin_dir(component.key, version)
    target.mkdir(parents=True, exist_ok=True)
    (target / STAMP).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"deployer-build-{component.key}-") as work:
        builder = {
            "kubernetes": _build_kubernetes,
            "etcd": _build_etcd,
            "kwok": _build_kwok,
            "helm": _build_helm,
        }[component.key]
        builder(Path(work), target, version)
    (target / STAMP).write_text(version + "\n")


def _build_kubernetes(work: Path, target: Path, version: str) -> None:
    staging = paths.versions()["staging"]
    module = "k8s.io/kubernetes"
    info = json.loads(
        _go(["mod", "download", "-json", f"{module}@{version}"], work, module, version)
    )
    gomod = Path(info["GoMod"]).read_text()
    staged = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod, flags=re.MULTILINE)
    if not staged:
        raise LocalClusterError(f"{module}@{version}: its go.mod lists no staging modules")
    replaces = "\n".join(f"\t{m} => {m} {staging}" for m in staged)
    go_line = re.search(r"^go (\S+)", gomod, flags=re.MULTILINE)
    (work / "go.mod").write_text(
        f"module deployer.local/controlplane\n\ngo {go_line.group(1) if go_line else '1.26.0'}\n\n"
        f"require {module} {version}\n\nreplace (\n{replaces}\n)\n"
    )
    commands = [f"{module}/cmd/{name}" for name in KUBERNETES.binaries]
    _go(["get", *(f"{c}@{version}" for c in commands)], work, module, version)
    major, minor = version.lstrip("v").split(".")[:2]
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    ldflags = " ".join(["-s -w", *stamps])
    _go(
        ["build", "-trimpath", "-ldflags", ldflags, "-o", str(target) + "/", *commands],
        work,
        module,
        version,
    )


def _build_etcd(work: Path, target: Path, version: str) -> None:
    module = "go.etcd.io/etcd/server/v3"
    (work / "go.mod").write_text("module deployer.local/etcd\n\ngo 1.24\n")
    _go(["get", f"{module}@{version}"], work, module, version)
    _go(
        ["build", "-trimpath", "-ldflags", "-s -w", "-o", str(target / "etcd"), module],
        work,
        module,
        version,
    )


def _build_kwok(work: Path, target: Path, version: str) -> None:
    module = "sigs.k8s.io/kwok"
    _go(
        ["install", "-trimpath", "-ldflags", "-s -w", f"{module}/cmd/kwok@{version}"],
        work,
        module,
        version,
        gobin=target,
    )


def _build_helm(work: Path, target: Path, version: str) -> None:
    major = version.lstrip("v").split(".")[0]
    module = f"helm.sh/helm/v{major}"
    ldflags = f"-s -w -X {module}/internal/version.version={version}"
    _go(
        ["install", "-trimpath", "-ldflags", ldflags, f"{module}/cmd/helm@{version}"],
        work,
        module,
        version,
        gobin=target,
    )


def _go(
    args: list[str], work: Path, module: str, version: str, *, gobin: Path | None = None
) -> str:
    """Run one go command; on failure name the module and version and what to do."""
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-mod=mod -buildvcs=false")
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    log.debug("go %s (in %s)", " ".join(args), work)
    done = subprocess.run(["go", *args], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise LocalClusterError(_explain_go_failure(args[0], module, version, done.stderr))
    return done.stdout


def _explain_go_failure(verb: str, module: str, version: str, stderr: str) -> str:
    """Turn go's output into one message naming the failing module and version."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    culprit = next(
        (m.group(1) for line in lines if (m := re.search(r"([\w./-]+@v[\w.+-]+)", line))),
        f"{module}@{version}",
    )
    detail = "\n  ".join(lines[-8:]) or "(no output)"
    return (
        f"go {verb} failed for {module} {version}; the failing module is {culprit}:\n  {detail}\n"
        "Check that the Go module proxy serves it (GOPROXY), or pin another release in "
        "deployer/local/versions.toml and run `deployer local up` again."
    )
