"""Calls to the helm binary through pyhelm3, run to completion from synchronous code.

pyhelm3's API is asyncio. Each template step runs in its own worker thread, so every
call here starts a fresh event loop with `asyncio.run`. Values reach helm on stdin,
never on the command line, so they do not show up in process listings or pyhelm3's
command log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyhelm3 import Client, Command
from pyhelm3 import errors as helm_errors

from deployer.engine.templates.helm_target import context_of, kubeconfig_of
from deployer.errors import ApiError, RenderError, WorkflowError
from deployer.local import helm_binary
from deployer.sources.helm import ChartLocation, archive_crds

__all__ = ["Helm", "Release", "context_of", "kubeconfig_of"]

T = TypeVar("T")

# pyhelm3 logs each failed helm command as a warning, and the step's error already
# carries helm's message. The NullHandler keeps Python's last-resort handler from
# printing those lines when the application configured no handler for pyhelm3.
logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
PENDING_STATES = ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling")
# The forms of helm's chart rendering errors that pyhelm3 does not classify, as helm v4.3.2
# prints them: a failed template action (`FILE:LINE:COL` then `executing "FILE" at <...>`),
# a template syntax error, and rendered text that is not YAML.
_RENDER_FAILURE = re.compile(
    r"^\S+:\d+:\d+\s+executing \"|^parse error at \(|^YAML parse error on ", re.MULTILINE
)
# helm's error for a `repo-name/chart` reference to a repository it does not know.
_REPO_NOT_FOUND = re.compile(r"^repo \S+ not found$", re.MULTILINE)


@dataclass(frozen=True)
class Release:
    """One installed release revision: name, namespace, revision number and status."""

    name: str
    namespace: str
    revision: int
    status: str


def _run(call: Coroutine[Any, Any, T], *, what: str) -> T:
    try:
        return asyncio.run(call)
    except helm_errors.FailedToRenderChartError as failure:
        raise RenderError(f"{what}: {_stderr(failure)}") from None
    except helm_errors.ChartNotFoundError as failure:
        raise WorkflowError(f"{what}: chart not found: {_stderr(failure)}") from None
    except helm_errors.Error as failure:
        text = _stderr(failure)
        if _RENDER_FAILURE.search(text):
            raise RenderError(f"{what}: {text}") from None
        if _REPO_NOT_FOUND.search(text):
            raise WorkflowError(
                f"{what}: {text}; add the repository with `helm repo add`, or give its URL in repo:"
            ) from None
        raise ApiError(f"{what}: helm failed: {text}") from None


def _documents(documents: Iterable[Any]) -> list[str]:
    """Return the non-empty documents as sorted canonical JSON, for an order-free compare."""
    return sorted(json.dumps(doc, sort_keys=True) for doc in documents if doc)


def _stderr(failure: helm_errors.Error) -> str:
    raw: bytes = failure.stderr or b""
    text = raw.decode(errors="replace").strip()
    return text.removeprefix("Error: ")[:2000]


class Helm:
    """A helm command bound to one cluster (kubeconfig and context)."""

    def __init__(self, *, kubeconfig: str | None, context: str | None) -> None:
        binary = helm_binary()
        if binary is None or not binary.exists():
            raise WorkflowError(
                "helm binary not found: set DEPLOYER_HELM to its path, build it with the "
                "local control plane, or put helm on PATH"
            )
        self.command = Command(
            executable=str(binary),
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            kubecontext=context or None,
        )
        self.client = Client(command=self.command, executable=str(binary))

    def chart(self, location: ChartLocation, *, repo: str | None, version: str | None) -> Any:
        """Resolve a chart (pyhelm3 Chart) with its metadata."""
        ref: Path | str = location.local if location.local else location.ref
        return _run(
            self.client.get_chart(ref, repo=repo, version=version),
            what=f"chart {location.ref}",
        )

    def chart_values(self, chart: Any) -> dict[str, Any]:
        """Return the chart's own default values (`helm show values`)."""
        values = _run(chart.values(), what=f"values of chart {chart.ref}")
        return dict(values or {})

    def chart_crds(self, chart: Any) -> list[dict[str, Any]]:
        """Return the objects in the chart's `crds/` folder."""
        ref = chart.ref
        if isinstance(ref, Path) and ref.is_file():
            # pyhelm3 reads crds/ only from folders and pulled charts, not local archives.
            return archive_crds(ref)
        return [dict(crd) for crd in _run(chart.crds(), what=f"crds/ of chart {ref}") if crd]

    def upgrade(
        self,
        release: str,
        chart: Any,
        values: dict[str, Any],
        *,
        namespace: str,
        timeout: float,
        create_namespace: bool,
        dry_run: bool,
        force_conflicts: bool = False,
    ) -> Release:
        """Run `helm upgrade --install` without `--wait` and with `--skip-crds`.

        `force_conflicts` adds `--force-conflicts`: helm 4's server-side apply then takes
        over fields that another field manager owns.
        """
        revision = _run(
            self.client.install_or_upgrade_release(
                release,
                chart,
                values,
                namespace=namespace,
                create_namespace=create_namespace,
                skip_crds=True,
                force_conflicts=force_conflicts,
                wait=False,
                dry_run=dry_run,
                timeout=f"{max(int(timeout), 1)}s",
            ),
            what=f"helm upgrade --install {release} (namespace {namespace})",
        )
        return Release(
            name=release,
            namespace=namespace,
            revision=int(revision.revision),
            status=str(getattr(revision.status, "value", revision.status)),
        )

    def recover_pending(self, release: str, *, namespace: str, timeout: float) -> str | None:
        """Unblock a release left in a pending state by an interrupted helm; return that state.

        Helm rejects any new upgrade while the last revision is pending ("another operation
        is in progress"), which happens when a helm process is killed mid-operation. A
        pending install (or uninstall) is uninstalled, waiting until its objects are gone so
        the reinstall does not collide with them. A pending upgrade or rollback is rolled
        back to the previous revision. Returns None when the release is absent or settled.
        """
        status = self.releases(namespace=namespace).get(release)
        if status not in PENDING_STATES:
            return None
        helm_timeout = f"{max(int(timeout), 1)}s"

        async def recover() -> None:
            if status in ("pending-install", "uninstalling"):
                await self.client.uninstall_release(
                    release, namespace=namespace, wait=True, timeout=helm_timeout
                )
                return
            current = await self.client.get_current_revision(release, namespace=namespace)
            await current.release.rollback(cleanup_on_fail=True, timeout=helm_timeout)

        _run(recover(), what=f"recovery of helm release {release} (namespace {namespace})")
        return status

    def current_if_unchanged(
        self, release: str, chart: Any, values: dict[str, Any], *, namespace: str
    ) -> Release | None:
        """Return the deployed revision when an upgrade would change nothing, else None.

        Nothing changes when the deployed revision used the same chart name and version,
        the same values, and its manifest equals what `helm template --is-upgrade` renders
        now. So an edited template in a chart folder without a version bump still counts
        as a change. Hooks are left out of the comparison, as helm keeps them apart.
        """
        if release not in self.releases(namespace=namespace):
            return None

        async def compare() -> Release | None:
            current = await self.client.get_current_revision(release, namespace=namespace)
            status = str(getattr(current.status, "value", current.status))
            metadata = await current.chart_metadata()
            same_chart = (metadata.name, str(metadata.version)) == (
                chart.metadata.name,
                str(chart.metadata.version),
            )
            if status != "deployed" or not same_chart or await current.values() != values:
                return None
            rendered = await self.client.template_resources(
                chart, release, values, namespace=namespace, is_upgrade=True, no_hooks=True
            )
            if _documents(rendered) != _documents(await current.resources()):
                return None
            return Release(release, namespace, int(current.revision), status)

        return _run(compare(), what=f"comparison of helm release {release} with its chart")

    def manifest(self, release: str, *, namespace: str) -> str:
        """Return the text of `helm get manifest` for the release's current revision."""
        output = _run(
            self.command.run(["get", "manifest", release, "--namespace", namespace]),
            what=f"helm get manifest {release} (namespace {namespace})",
        )
        return bytes(output).decode()

    def releases(self, *, namespace: str) -> dict[str, str]:
        """Return the status of each release in a namespace (`helm list`), by release name.

        Deployed, failed, pending and uninstalling releases are listed. Superseded
        revisions and releases uninstalled with `--keep-history` are not.
        """
        found = _run(
            self.client.list_release_definitions(
                namespace=namespace,
                include_deployed=True,
                include_failed=True,
                include_pending=True,
                include_uninstalling=True,
            ),
            what=f"helm list (namespace {namespace})",
        )
        return {str(entry["name"]): str(entry.get("status", "")) for entry in found}

    def uninstall(self, release: str, *, namespace: str, timeout: float) -> None:
        """Run `helm uninstall` without waiting; a release that is gone counts as done."""
        _run(
            self.client.uninstall_release(
                release, namespace=namespace, wait=False, timeout=f"{max(int(timeout), 1)}s"
            ),
            what=f"helm uninstall {release} (namespace {namespace})",
        )
