"""The `bimo` command line: parses arguments and calls into the library, nothing more.

Every stage has its own Typer app in `bimo/<stage>/cli.py`, mounted here, and run by
`bimo.cliutil.run_app`: errors a user can cause are `BimoError`s and print as one line
with exit code 2; set BIMO_DEBUG=1 to see a traceback for anything unexpected.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

from bimo.cliutil import run_app
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


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
