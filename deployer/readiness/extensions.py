"""Readiness of API extensions (CRDs, APIServices) and of custom resources in general."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.model.status import Status
from deployer.readiness.facts import Facts, failed, in_progress, ready
from deployer.readiness.fields import condition, condition_text, metadata, status


def custom_resource_definition(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Established=True; failed when the API server rejected its names."""
    names = condition(obj, "NamesAccepted")
    if names is not None and names.get("status") == "False":
        return failed(str(names.get("reason") or "NamesNotAccepted"), condition_text(names))
    established = condition(obj, "Established")
    if established is not None and established.get("status") == "True":
        return ready("Established", "")
    detail = condition_text(established) or "not reported yet"
    return in_progress("NotEstablished", f"waiting for condition Established: {detail}")


def api_service(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Available=True, which the API server sets once the aggregated API serves."""
    available = condition(obj, "Available")
    if available is not None and available.get("status") == "True":
        return ready("Available", "")
    detail = condition_text(available) or "not reported yet"
    return in_progress("NotAvailable", f"waiting for condition Available: {detail}")


def exists(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready as soon as the object exists; for kinds that no controller acts on."""
    return ready("Exists", "")


def custom_resource(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Judge an object of a kind without its own rule by its Ready condition.

    A Ready condition that carries an older `observedGeneration` than the object is stale,
    so the object is IN_PROGRESS whatever the condition reports.
    Ready=False is IN_PROGRESS, never FAILED, because most controllers report Ready=False
    while they are still working and retry after errors. Such an object fails only through
    Stalled=True or a `deployer.dev/failure-condition` annotation, which `evaluate` checks
    first. The condition's reason and message go into the status for the timeout report.
    NOTE: an object with no Ready condition, including one with no status at all, is ready
    as soon as it exists. Its controller may simply not have reconciled it yet; give such
    objects a `deployer.dev/success-condition` to wait on what they do report.
    """
    entry = condition(obj, "Ready")
    if entry is None:
        missing = "no status" if not status(obj) else "no Ready condition"
        return ready("Exists", f"exists ({missing})")
    generation = metadata(obj).get("generation")
    observed = entry.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return in_progress(
            "GenerationNotObserved",
            f"waiting for the Ready condition of generation {generation} (it is of {observed})",
        )
    value = entry.get("status")
    if value == "True":
        return ready(str(entry.get("reason") or "Ready"), str(entry.get("message") or ""))
    reason = str(entry.get("reason") or ("NotReady" if value == "False" else "ReadyUnknown"))
    return in_progress(reason, f"waiting for condition Ready: {condition_text(entry)}")
