"""How every bimo command line ends: one line on stderr and an exit code, never a traceback.

Below the stages, so `bimo` and the standalone entries (`python -m bimo.train` under
`accelerate launch`, `python -m bimo.evaluate.cli`) share one error contract.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from bimo.errors import BimoError
from bimo.extras import from_import_error


def given(**options: Any) -> dict[str, Any]:
    """The options set on the command line. An option's CLI default is None, so one left unset
    takes the config model's field default: each default is written once, on the model."""
    return {k: v for k, v in options.items() if v is not None}


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
