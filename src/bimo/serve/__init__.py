"""`bimo serve`: an OpenAI-compatible API plus a writing web app and a blind voting arena.

One process serves everything: `/v1/*` for OpenAI clients, `/api/*` for the pages,
and the pages themselves (`/` writing, `/arena` voting) as plain files shipped in
the package. Build the ASGI app with `create_app(ServeConfig(...))`.
"""

from bimo.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def create_app(*args, **kwargs):
    """Lazy so `import bimo.serve` does not pull FastAPI in."""
    from bimo.serve.app import create_app as _create

    return _create(*args, **kwargs)
