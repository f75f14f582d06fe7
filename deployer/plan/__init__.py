"""Kind ranks, the dependency graph, waves, static validation and plan descriptions. Pure."""

from deployer.plan.describe import format_plan, plan_to_data
from deployer.plan.validate import static_problems
from deployer.plan.waves import build_plan

__all__ = ["build_plan", "format_plan", "plan_to_data", "static_problems"]
