"""Durations as users write them in annotations and flags: `90`, `30s`, `5m`, `1h30m`."""

from __future__ import annotations

import re

from deployer.errors import InputError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Return seconds for `text`, where a bare number is seconds; InputError names `what`."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    parts = _PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise InputError(
            f"{what}: invalid duration {text!r}; "
            "write a number of seconds or units like 30s, 5m, 1h"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
