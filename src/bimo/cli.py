"""The `bimo` command line: parses arguments and calls into the library, nothing more.

Every stage has its own Typer app in `bimo/<stage>/cli.py`, mounted here. Errors a user
can cause are `BimoError`s and print as one line with exit code 2; set BIMO_DEBUG=1
to see a traceback for anything unexpected.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import typer

from bimo.errors import BimoError
from bimo.extras import from_import_error
from bimo.llm.cli import models_app
from bimo.write.cli import write_command

app = typer.Typer(
    help="笔墨 bimo — build, run and judge writing-specialist LLMs (Chinese first, English too).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("write", help="Write with a model: every writing task, and long-form that hits the asked length.")(
    write_command
)
app.add_typer(models_app, name="models")

# (command name, module, attribute): stages mount their own Typer apps.
_STAGES = [
    ("curate", "bimo.curate.cli", "app"),
    ("synth", "bimo.synth.cli", "app"),
    ("train", "bimo.train.cli", "app"),
    ("eval", "bimo.evaluate.cli", "app"),
    ("bench", "bimo.write.bench_cli", "app"),
    ("serve", "bimo.serve.cli", "app"),
    ("pipeline", "bimo.pipeline.cli", "app"),
]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


for _name, _module, _attr in _STAGES:
    if _exists(_module):
        _sub = getattr(importlib.import_module(_module), _attr)
        if isinstance(_sub, typer.Typer):
            app.add_typer(_sub, name=_name)
        else:
            app.command(_name)(_sub)


def _print_version(value: bool) -> None:
    if value:
        from bimo import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """bimo: build, run and judge writing models."""


def fail(message: str, code: int = 2) -> None:
    sys.stderr.write(f"bimo: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def run_app(typer_app: typer.Typer) -> None:
    """Run a Typer app with bimo's error contract: one line on stderr and a non-zero exit
    for usage errors, bad input and bugs alike (a traceback only with BIMO_DEBUG=1).
    Typer 0.29 runs on its own bundled copy of click, whose exceptions all derive from
    `typer.TyperException`, `typer.Exit` and `typer.Abort`; click itself is no dependency
    of bimo (it is installed only where an extra happens to pull it in)."""
    try:
        rv = typer_app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("aborted", 130)
    except typer.TyperException as exc:
        if hasattr(exc, "show"):  # usage errors: message plus a hint to -h
            exc.show()
            sys.exit(exc.exit_code)
        fail(exc.format_message(), exc.exit_code)
    except BimoError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
    except ImportError as exc:
        missing = from_import_error(exc)
        if missing is None:
            _internal_error(exc)
        else:
            fail(str(missing))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: still one line unless asked for details
        _internal_error(exc)
    sys.exit(rv if isinstance(rv, int) else 0)


def _internal_error(exc: Exception) -> None:
    if os.environ.get("BIMO_DEBUG"):
        raise exc
    fail(f"internal error: {type(exc).__name__}: {str(exc)[:200]} (set BIMO_DEBUG=1 for a traceback)", 1)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
