"""The message for an apply stopped by Ctrl-C: which waves are in place and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from deployer.engine.targets import Target
from deployer.model.plan import Plan
from deployer.model.status import State

DONE_STATES = (State.READY, State.SKIPPED)


def interrupted_message(plan: Plan, written: Sequence[Target], wave_index: int) -> str:
    """Describe the state an apply leaves when interrupted during wave `wave_index`.

    `wave_index` is the 0-based index of the running wave, or the number of waves when
    the interrupt came while pruning. Waves are numbered from 1 in the message.
    """
    total = len(plan.waves)
    rerun = "nothing was rolled back; run the same apply again to continue, as it is idempotent"
    if wave_index >= total:
        return f"apply interrupted while pruning: all {total} wave(s) are applied; {rerun}"
    parts = [f"apply interrupted in wave {wave_index + 1} of {total}"]
    if wave_index == 1:
        parts.append("wave 1 is applied and ready")
    elif wave_index > 1:
        parts.append(f"waves 1 to {wave_index} are applied and ready")
    wave = plan.waves[wave_index]
    current = [target for target in written if target.wave == wave.index]
    parts.append(f"{len(current)} of {len(wave.manifests)} object(s) of this wave were applied")
    waiting = [target.describe() for target in current if target.status.state not in DONE_STATES]
    if waiting:
        parts.append("still not ready: " + ", ".join(waiting))
    parts.append(rerun)
    return "; ".join(parts)
