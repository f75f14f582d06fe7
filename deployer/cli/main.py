"""Entry point of the `deployer` command.

Each area registers its commands in its own module; `COMMAND_MODULES` lists them.
Exit codes follow kubectl: 0 success, 1 failure, 2 usage error.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from deployer import __version__
from deployer.errors import DeployerError

# Modules under deployer.cli that define a `register(group)` function.
COMMAND_MODULES: tuple[str, ...] = (
    "local_cmds",
    "apply_cmds",
    "stack_cmds",
    "workflow_cmds",
    "dashboard_cmds",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="deployer")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug logs).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only errors and the command's one-line result: no progress, no warnings.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", help="Log line format."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int, quiet: bool, log_format: str) -> None:
    """Bring whole application stacks up on Kubernetes, wave by wave, and know they are up."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet  # read by the progress views (deployer.cli.progress)
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    configure_logging(level, log_format)


def configure_logging(level: int, log_format: str) -> None:
    """Install the one stderr handler; library code never configures handlers."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("deployer")
    root.handlers[:] = [handler]
    root.setLevel(level)


class JsonFormatter(logging.Formatter):
    """One JSON object per log record."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        return json.dumps(
            {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        )


def _register_all() -> None:
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"deployer.cli.{module_name}")
        module.register(cli)


def main() -> None:
    """Run the CLI, turning deployer errors into one `error:` line and exit code 1."""
    _register_all()
    debug = "--debug" in sys.argv
    try:
        # Without standalone mode click returns the code of an explicit `ctx.exit(N)`.
        returned = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as usage:
        usage.show()
        sys.exit(2 if isinstance(usage, click.UsageError) else usage.exit_code)
    except DeployerError as failure:
        if debug:
            raise
        click.echo(f"error: {failure}", err=True)
        sys.exit(failure.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(returned if isinstance(returned, int) else 0)
