"""The exception tree that every user-facing error of deployer belongs to.

DeployerError
├── InputError          a file, document or flag is malformed (names file and line)
│   └── RenderError     a Jinja2, Jsonnet or Helm template failed to render
├── ValidationError     objects rejected by the schema or a dry run before any write
├── PlanError           the dependency graph is unusable (cycle, unknown reference)
├── WorkflowError       a workflow is invalid or cannot run
├── ApiError            the API server rejected or failed a request
│   ├── ConflictError   server-side apply conflicts with another field manager
│   └── ImmutableFieldError  a change touches a field the server will not update
├── ReadinessTimeout    objects were still not ready when a timeout ran out
├── ObjectFailed        an object reached a failed state (Job failed, pods crash-looping)
├── Interrupted         Ctrl-C stopped an apply; says what was applied (exit code 130)
└── LocalClusterError   building, starting or stopping the local control plane failed

The CLI prints `error: <message>` for any of these and exits with 1 (130 for
Interrupted); a traceback is shown only with `--debug`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DeployerError(Exception):
    """Base of every error deployer reports to the user."""

    exit_code: int = 1


class InputError(DeployerError):
    """A file, document or flag is malformed; names the file and line when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = file or ""
        if file and line is not None:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class RenderError(InputError):
    """A Jinja2, Jsonnet or Helm template failed to render."""


@dataclass(frozen=True)
class Problem:
    """One reason an object was rejected: the object, the field path and the message."""

    object: str
    path: str
    message: str

    def __str__(self) -> str:
        at = f" {self.path}:" if self.path else ""
        return f"{self.object}:{at} {self.message}"


class ValidationError(DeployerError):
    """Objects were rejected before any write; nothing was applied."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        # Problems are not only fields: unknown kinds and missing namespaces are here too.
        super().__init__(f"{count} problem(s); nothing was applied:\n{lines}")


class PlanError(DeployerError):
    """The dependency graph cannot be ordered: a cycle or an unknown reference."""


class WorkflowError(DeployerError):
    """A workflow is invalid or cannot run; names the file, template and name."""


class ApiError(DeployerError):
    """The API server rejected or failed a request about one object."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class ConflictError(ApiError):
    """Server-side apply found fields owned by another manager; lists each path."""


class ImmutableFieldError(ApiError):
    """A change touches an immutable field; the object must be recreated to apply it."""


class ReadinessTimeout(DeployerError):
    """Objects were still not ready when the timeout ran out."""


class ObjectFailed(DeployerError):
    """An object reached a failed state, such as a failed Job or crash-looping pods."""


class Interrupted(DeployerError):
    """The user stopped the command with Ctrl-C; the message says what state is left."""

    exit_code = 130  # 128 + SIGINT, as shells report a process ended by Ctrl-C


class LocalClusterError(DeployerError):
    """Building, starting or stopping the local control plane failed."""
