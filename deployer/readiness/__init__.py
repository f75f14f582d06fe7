"""Pure readiness rules: one live object, and for workloads its pods, to a Status.

No I/O happens here. The apply engine calls `evaluate` on every watch event, and the
workflow engine uses `parse_condition` for Argo resource-template conditions.
"""

from deployer.readiness.conditions import Condition, Requirement, parse_condition
from deployer.readiness.rules import (
    RULES,
    conditions_of,
    evaluate,
    needs_pods,
    pod_selector,
    validate_annotations,
)
from deployer.readiness.workloads import PERSISTENT_REASONS

__all__ = [
    "PERSISTENT_REASONS",
    "RULES",
    "Condition",
    "Requirement",
    "conditions_of",
    "evaluate",
    "needs_pods",
    "parse_condition",
    "pod_selector",
    "validate_annotations",
]
