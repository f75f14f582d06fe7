"""The Cluster: every request deployer sends to the API server goes through it.

One Cluster owns one urllib3 pool (see `config.POOL_SIZE`) that all threads share,
a discovery cache, and retries. Objects travel as plain dicts decoded from raw JSON.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import urllib3

from deployer.cluster import config, discovery
from deployer.cluster.discovery import ResourceInfo
from deployer.cluster.kube import ApiException
from deployer.cluster.retry import Transient
from deployer.cluster.transport import Query, Transport
from deployer.errors import ApiError, ImmutableFieldError, InputError
from deployer.model.objects import ANNOTATION_PREFIX

log = logging.getLogger(__name__)

FIELD_MANAGER = "deployer"
RECREATE_ANNOTATION = ANNOTATION_PREFIX + "recreate"
RECREATE_TIMEOUT_SECONDS = 120.0
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


def describe(kind: str, name: str, namespace: str | None = None) -> str:
    """Name an object the way messages do: `Deployment sock-shop/carts`."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def describe_body(body: Mapping[str, Any]) -> str:
    """Name the object a manifest body describes."""
    meta = body.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "(no name)"
    return describe(str(body.get("kind")), str(name), meta.get("namespace"))


class Cluster:
    """A connection to one API server: discovery, server-side apply, reads, watches, logs."""

    def __init__(self, connection: config.Connection) -> None:
        self.connection = connection
        self.default_namespace = connection.default_namespace
        self.transport = Transport(connection.api_client)
        self._resources: dict[tuple[str, str], ResourceInfo] = {}
        self._discovered = False
        self._discovery_lock = threading.Lock()

    @classmethod
    def connect(cls, *, kubeconfig: str | None = None, context: str | None = None) -> Cluster:
        """Connect with kubectl's rules for `--kubeconfig`, `KUBECONFIG` and `--context`."""
        return cls(config.connect(kubeconfig, context))

    # Discovery

    def refresh_mapping(self) -> None:
        """Read discovery again, for kinds that CRDs added since the last read."""
        found = self._discover()
        with self._discovery_lock:
            self._resources = found
            self._discovered = True

    def find_resource(self, api_version: str, kind: str) -> ResourceInfo | None:
        """Return the resource for a kind, or None when the server does not serve it."""
        if not self._discovered:
            self.refresh_mapping()
        return self._resources.get((api_version, kind))

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Return the resource for a kind; an unknown kind is an ApiError hinting at CRDs."""
        info = self.find_resource(api_version, kind)
        if info is None:
            # The cache may predate a CRD that someone else installed meanwhile.
            self.refresh_mapping()
            info = self._resources.get((api_version, kind))
        if info is None:
            raise ApiError(
                f"the server has no kind {kind} in apiVersion {api_version}; check the "
                "spelling, or install the CustomResourceDefinition that defines it first",
                status=404,
                reason="NoKindMatch",
            )
        return info

    def _discover(self) -> dict[tuple[str, str], ResourceInfo]:
        found: dict[tuple[str, str], ResourceInfo] = {}
        accept = discovery.AGGREGATED_ACCEPT
        core = self.transport.call("GET", "/api", subject="discovery /api", accept=accept)
        groups = self.transport.call("GET", "/apis", subject="discovery /apis", accept=accept)
        core_map = discovery.parse_aggregated(core)
        groups_map = discovery.parse_aggregated(groups)
        if core_map is not None and groups_map is not None:
            found.update(core_map)
            found.update(groups_map)
            return found
        core = self.transport.call("GET", "/api", subject="discovery /api")
        groups = self.transport.call("GET", "/apis", subject="discovery /apis")
        for group_version in discovery.legacy_group_versions(core, groups):
            prefix = "/api" if "/" not in group_version else "/apis"
            document = self.transport.call(
                "GET", f"{prefix}/{group_version}", subject=f"discovery {group_version}"
            )
            found.update(discovery.parse_resource_list(document))
        return found

    def _locate(self, body: Mapping[str, Any]) -> tuple[ResourceInfo, str | None]:
        try:
            info = self.resource(str(body.get("apiVersion") or ""), str(body.get("kind") or ""))
        except ApiError as unknown:
            raise ApiError(
                f"{describe_body(body)}: {unknown}", status=unknown.status, reason=unknown.reason
            ) from None
        namespace = (body.get("metadata") or {}).get("namespace")
        if info.namespaced:
            return info, str(namespace or self.default_namespace)
        return info, None

    def _info(
        self, api_version: str, kind: str, namespace: str | None
    ) -> tuple[ResourceInfo, str | None]:
        info = self.resource(api_version, kind)
        return info, (namespace if info.namespaced else None)

    # Writes

    def apply(
        self, body: dict[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply `body` as field manager `deployer` and return the stored object.

        On an immutable-field rejection an object annotated `deployer.dev/recreate: "true"`
        is deleted (foreground), awaited until gone and applied again; otherwise
        ImmutableFieldError is raised. A 409 conflict raises ConflictError.
        """
        info, namespace = self._locate(body)
        name = str((body.get("metadata") or {}).get("name") or "")
        query: list[tuple[str, str]] = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        subject = describe(info.kind, name, namespace)
        try:
            result = self.transport.call(
                "PATCH",
                info.path(namespace, name),
                subject=subject,
                query=query,
                body=body,
                content_type="application/apply-patch+yaml",
                secret=info.kind == "Secret",
                applying=True,
            )
        except ImmutableFieldError:
            if dry_run or not wants_recreate(body):
                raise
            log.info("%s has an immutable-field change; deleting and recreating it", subject)
            self.delete(info.api_version, info.kind, name, namespace, propagation="Foreground")
            self.wait_deleted(info.api_version, info.kind, name, namespace)
            return self.apply(body, force=force)
        if info.kind == "Namespace" and not dry_run:
            self.transport.note_namespace_created(name)
        return result

    def create(
        self, body: dict[str, Any], *, dry_run: bool = False, strict: bool = False
    ) -> dict[str, Any]:
        """Create `body` with POST and return the stored object.

        With `strict`, fields the object's schema does not declare are rejected, as
        server-side apply does, rather than dropped with a warning.
        """
        info, namespace = self._locate(body)
        query: list[tuple[str, str]] = [("fieldManager", FIELD_MANAGER)]
        if dry_run:
            query.append(("dryRun", "All"))
        if strict:
            query.append(("fieldValidation", "Strict"))
        return self.transport.call(
            "POST",
            info.path(namespace),
            subject=describe_body(body),
            query=query,
            body=body,
            secret=info.kind == "Secret",
        )

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        patch_type: str = "merge",
    ) -> dict[str, Any]:
        """Patch one object with a merge, strategic or JSON patch and return it."""
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_TYPES)}, not {patch_type!r}")
        info, namespace = self._info(api_version, kind, namespace)
        return self.transport.call(
            "PATCH",
            info.path(namespace, name),
            subject=describe(kind, name, namespace),
            query=[("fieldManager", FIELD_MANAGER)],
            body=patch,
            content_type=PATCH_TYPES[patch_type],
            secret=kind == "Secret",
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete one object; return False when it was already gone."""
        info, namespace = self._info(api_version, kind, namespace)
        try:
            self.transport.call(
                "DELETE",
                info.path(namespace, name),
                subject=describe(kind, name, namespace),
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
            )
        except ApiError as failure:
            if failure.status == 404:
                return False
            raise
        return True

    # Reads

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Return one object, or None when it does not exist."""
        info, namespace = self._info(api_version, kind, namespace)
        try:
            return self.transport.call(
                "GET", info.path(namespace, name), subject=describe(kind, name, namespace)
            )
        except ApiError as failure:
            if failure.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """List objects of a kind (all namespaces when `namespace` is None).

        Returns the items, each with apiVersion and kind filled in, and the list's
        resourceVersion to start a watch from.
        """
        info, namespace = self._info(api_version, kind, namespace)
        query: list[tuple[str, str]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        subject = f"list of {info.plural}" + (f" in namespace {namespace}" if namespace else "")
        document = self.transport.call("GET", info.path(namespace), subject=subject, query=query)
        items = document.get("items") or []
        for item in items:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        version = str((document.get("metadata") or {}).get("resourceVersion") or "")
        return items, version

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        stop: threading.Event | None = None,
        timeout_seconds: float | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (event type, object) pairs: ADDED, MODIFIED, DELETED.

        Without `resource_version` the current objects are listed first and yielded as
        ADDED. The watch resumes from the last version seen when the server closes it,
        and lists again on 410 Gone. It ends when `stop` is set or the timeout passes.
        """
        from deployer.cluster.watch import Watch

        info, namespace = self._info(api_version, kind, namespace)
        yield from Watch(
            self,
            info,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            stop=stop or threading.Event(),
            timeout_seconds=timeout_seconds,
        ).events(resource_version)

    def wait_deleted(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        timeout_seconds: float = RECREATE_TIMEOUT_SECONDS,
    ) -> None:
        """Block until one object is gone, watching it; raise ReadinessTimeout if it stays."""
        from deployer.cluster.watch import wait_gone

        info, namespace = self._info(api_version, kind, namespace)
        wait_gone(self, info, namespace, {name}, timeout_seconds=timeout_seconds)

    def pod_log(
        self, name: str, namespace: str, *, container: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        """Yield the log lines of one pod container, following new lines if requested.

        Raises ApiError when the log cannot be read (pod missing, or no kubelet serving it).
        """
        query: Query = [("container", container)] if container else []
        if follow:
            query = [*query, ("follow", "true")]
        subject = f"log of pod {namespace}/{name}"
        try:
            response = self.transport.open(
                "GET",
                f"/api/v1/namespaces/{namespace}/pods/{name}/log",
                query=query,
                accept="*/*",
                timeout=(10.0, None) if follow else (10.0, 60.0),
            )
        except ApiException as failure:
            error = self.transport.classify(failure, subject=subject, secret=False, applying=False)
            if isinstance(error, Transient) and isinstance(error.response, ApiError):
                raise error.response from None
            raise error from None
        except (urllib3.exceptions.HTTPError, OSError) as failure:
            raise ApiError(f"{subject}: connection to the API server failed: {failure}") from None
        try:
            for line in response:
                yield line.decode("utf-8", "replace").rstrip("\n")
        finally:
            response.release_conn()

    def warning_events(
        self, namespace: str | None, *, limit: int = 5
    ) -> dict[tuple[str, str], builtins.list[str]]:
        """Return the latest distinct Warning events in a namespace, by involved object.

        Keys are (kind, name); values are up to `limit` lines `Reason: message`, newest
        first. Events about cluster-scoped objects are in namespace `default`, which
        `namespace=None` reads. One list request serves every object of the namespace.
        """
        where = namespace or "default"
        try:
            items, _ = self.list("v1", "Event", where, field_selector="type=Warning")
        except ApiError as failure:
            log.debug("cannot read Warning events in namespace %s: %s", where, failure)
            return {}
        items.sort(key=_event_time, reverse=True)
        found: dict[tuple[str, str], builtins.list[str]] = {}
        for item in items:
            involved = item.get("involvedObject") or {}
            lines = found.setdefault((str(involved.get("kind")), str(involved.get("name"))), [])
            line = f"{item.get('reason', '')}: {item.get('message', '')}".strip()
            if line not in lines and len(lines) < limit:
                lines.append(line)
        return found


def wants_recreate(body: Mapping[str, Any]) -> bool:
    """Read the `deployer.dev/recreate` annotation of an object body; absent means False.

    Raises InputError for a value other than "true" or "false" (in any letter case).
    """
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(RECREATE_ANNOTATION)
    if value is None:
        return False
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise InputError(f'{RECREATE_ANNOTATION} must be "true" or "false", got {str(value)!r}')
    return text == "true"


def _event_time(event: Mapping[str, Any]) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")
