"""One exception type for every mistake a user can make.

The CLI catches `BimoError` and prints its message as one line with a non-zero exit,
so anything raised as `BimoError` must read well on its own, without a traceback.
"""


class BimoError(Exception):
    """A user-facing error: bad input, missing model, unreachable server..."""

    exit_code = 2


class ModelNotFound(BimoError):
    """A model URI names a model that is not known or not pulled."""


class BackendError(BimoError):
    """A backend failed to answer (unreachable, garbage, timeout) after retries."""


class ContextOverflow(BimoError):
    """The prompt does not fit the model's context window."""

    def __init__(self, message: str, n_prompt: int | None = None, n_ctx: int | None = None):
        super().__init__(message)
        self.n_prompt = n_prompt
        self.n_ctx = n_ctx
