"""Secret masking for run records.

Values that must not be shown are masked as `***` in everything written to a run's record:
the values of parameters whose name looks secret (`SECRET_NAME`) and values read from a
Secret object.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"

# Parameter names that are treated as secret: any name containing one of these words.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|apikey|api-key|api_key|credential)", re.I)


def looks_secret(name: str) -> bool:
    """Return True when a parameter name suggests its value is a secret."""
    return bool(SECRET_NAME.search(name))


# A masked value must not continue a longer token on either side: a letter, digit, `_` or
# `-`, or a `.` between two of those. So the secret `admin` stays visible inside the object
# name `grafana-admin` or `admin.conf`, but is masked in `pw=admin`, `"admin"` or `admin.`.
# NOTE: a secret written glued to other token characters (`xadmin`, `admin_1`, `admin.Next`)
# therefore stays visible in the record.
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_-]")
_TOKEN_BEFORE = r"(?<![A-Za-z0-9_-])(?<![A-Za-z0-9_]\.)"
_TOKEN_AFTER = r"(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_])"


def _token_pattern(value: str) -> str:
    """Return the regex of `value` as a whole token.

    An edge of the value that is itself no token character (as in `p@ss!`) needs no boundary.
    """
    pattern = re.escape(value)
    if _TOKEN_CHAR.fullmatch(value[0]):
        pattern = _TOKEN_BEFORE + pattern
    if _TOKEN_CHAR.fullmatch(value[-1]):
        pattern += _TOKEN_AFTER
    return pattern


class Masker:
    """Replaces registered secret values in text; shared by one run and its record writer.

    A value is replaced where it is a whole token (see `_token_pattern`), not where it is
    part of a longer word or name, so masking does not garble names that contain a secret.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # Very short values would mask unrelated text, such as "1" in "attempt 1".
        if len(value) < 3:
            return
        # A value inside JSON text (an output that is a JSON document) appears escaped.
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        with self._lock:
            self._values.update({value, escaped})
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first, so a value that contains another one is masked whole.
                values = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(_token_pattern(value) for value in values))
            return self._pattern

    def mask(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is None:
            return text
        return pattern.sub(MASK, text)

    def mask_data(self, data: Any) -> Any:
        """Return a copy of a JSON-like value with every string masked."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, Mapping):
            return {key: self.mask_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.mask_data(value) for value in data]
        return data
