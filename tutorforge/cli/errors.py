"""How every `tutorforge` command fails: one `error: …` line on stderr and an exit code that says whose fault it is.

- exit 2, ConfigError: a configuration mistake the user fixes before running again: an option value (a URL that is
  none, an unknown stage or profile), an environment override, a params file (ParamsError), missing credentials.
  Click's own usage errors (unknown option, bad choice, missing argument) are exit 2 as well.
- exit 1, CommandFailed: a runtime failure: a server down, an object missing, a verification that failed.

`OneLineErrors` is the Typer group class of the top-level app (app.py), so every command of every area runs inside
its `invoke`: known exception types (CONFIG_ERRORS, RUNTIME_ERRORS) become those two, and its `main` prints any
Typer/Click error as that one line instead of a help box or a traceback. Anything else is a bug and keeps its
traceback. An area uses it by raising ConfigError / CommandFailed (or a listed exception) and nothing else:

    raise ConfigError(f"--kind: {kind!r} is not a project kind; use one of {', '.join(kinds)}")
    with config_mistakes(ValueError):       # a library's ValueError here means the user's input was wrong
        stages = upstream(stage, dvc_yaml)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup


class ConfigError(typer.TyperException):
    """A configuration mistake (exit code 2); the message names the option, variable or params key."""

    exit_code = 2


class CommandFailed(typer.TyperException):
    """A runtime failure (exit code 1)."""

    exit_code = 1


# (module, class, hint): looked up only when the module is already imported (an exception of a module nobody
# imported cannot occur), so `tutorforge --help` imports nothing heavy. First match wins: config before runtime.
CONFIG_ERRORS: Sequence[tuple[str, str, str]] = (
    ("tutorforge.core.config", "ParamsError", ""),
    ("botocore.exceptions", "NoCredentialsError", "set AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY or AWS_PROFILE"),
    ("botocore.exceptions", "PartialCredentialsError", ""),
    ("botocore.exceptions", "ProfileNotFound", "check AWS_PROFILE"),
    ("botocore.exceptions", "NoRegionError", "set AWS_DEFAULT_REGION"),
)
RUNTIME_ERRORS: Sequence[tuple[str, str, str]] = (
    ("tutorforge.registry.store", "RegistryError", ""),
    ("tutorforge.orchestration.dvc_runner", "StageFailed", ""),
    ("tutorforge.orchestration.dvc_runner", "LockTimeout", ""),
    ("botocore.exceptions", "BotoCoreError", ""),  # no secrets in these (credentials are never in messages)
    ("botocore.exceptions", "ClientError", ""),
    ("boto3.exceptions", "Boto3Error", ""),
    ("httpx", "HTTPError", ""),  # the Prefect API unreachable or refusing
    ("subprocess", "SubprocessError", ""),
    ("builtins", "OSError", ""),  # a file missing or unreadable, a connection refused, a timeout
)


def one_line(text: object) -> str:
    """Whitespace runs -> one space, other unprintable characters escaped (messages may quote remote text)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(text).split()))


def _match(e: BaseException, table: Sequence[tuple[str, str, str]]) -> str | None:
    """The hint of the first table entry `e` is an instance of ("" = none), or None when none matches."""
    for module, name, hint in table:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(e, cls):
            return hint
    return None


def translate(e: BaseException) -> typer.TyperException | None:
    """ConfigError / CommandFailed for a known exception type, None for anything else (a bug: keep the traceback)."""
    if isinstance(e, BrokenPipeError):  # `tutorforge … | head`: Typer's own EPIPE handling exits quietly
        return None
    for table, kind in ((CONFIG_ERRORS, ConfigError), (RUNTIME_ERRORS, CommandFailed)):
        hint = _match(e, table)
        if hint is not None:
            return kind(f"{e} ({hint})" if hint else str(e))
    return None


@contextlib.contextmanager
def config_mistakes(*types: type[BaseException], source: str = "") -> Iterator[None]:
    """Inside: an exception of `types` is a ConfigError (prefixed by `source`, e.g. the option it came from)."""
    try:
        yield
    except types as e:
        if translate(e) is not None:  # a ParamsError (a ValueError) names its file and key already
            raise
        raise ConfigError(f"{source}: {e}" if source else str(e)) from None


def _show(e: typer.TyperException) -> NoReturn:
    ctx = getattr(e, "ctx", None)  # usage errors know their command: point at its help
    if type(e).__name__ == "NoArgsIsHelpError":  # `tutorforge registry`: the help is the answer (rich printed it)
        if e.format_message().strip():
            typer.echo(e.format_message(), err=True)
        sys.exit(e.exit_code)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None and getattr(e, "exit_code", 1) == 2 else ""
    typer.echo(f"error: {one_line(e.format_message())}{hint}", err=True)
    sys.exit(e.exit_code)


class OneLineErrors(TyperGroup):
    """The top-level group: known failures of any command become one `error:` line with exit code 2 or 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except Exception as e:
            mapped = translate(e)
            if mapped is None:
                raise
            raise mapped from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles errors itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as e:  # ConfigError, CommandFailed and every Click usage error
            _show(e)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
