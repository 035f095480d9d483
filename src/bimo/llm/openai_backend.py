"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, bimo serve...): `openai:BASE_URL`.

URI forms: `openai:http://127.0.0.1:8000/v1` (first model the server lists) or
`openai:http://127.0.0.1:11434/v1#qwen2.5:7b` (a named model). The API key comes from
`BIMO_API_KEY` or `OPENAI_API_KEY`; local servers usually accept anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bimo.errors import BackendError, BimoError
from bimo.llm.base import Backend, TransientError

# Keys the SDK accepts as keyword arguments; everything else travels in extra_body.
_SDK_KEYS = {"messages", "model", "temperature", "top_p", "max_tokens", "stop", "seed", "response_format",
             "tools", "tool_choice", "n", "presence_penalty", "frequency_penalty", "logit_bias", "user",
             "stream_options", "logprobs", "top_logprobs", "parallel_tool_calls"}


class OpenAIBackend(Backend):
    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 parallel: int = 8, timeout: float = 600.0, n_ctx: int | None = None) -> None:
        super().__init__()
        try:
            import openai
        except ImportError:  # pragma: no cover - a base dependency
            raise BimoError("the openai package is missing; pip install openai") from None
        if not base_url.startswith(("http://", "https://")):
            raise BimoError(f"openai: backend needs an http(s) URL, got '{base_url}'")
        self._openai = openai
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or os.environ.get("BIMO_API_KEY") or os.environ.get("OPENAI_API_KEY") or "sk-none"
        self.parallel = parallel
        self.n_ctx = n_ctx
        self.timeout = timeout
        self.client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=timeout, max_retries=0)
        self._model = model
        self.uri = f"openai:{self.base_url}" + (f"#{model}" if model else "")

    @property
    def model(self) -> str:
        if self._model is None:
            try:
                models = self._call(lambda: self.client.models.list())
                ids = [m.id for m in models.data]
            except BackendError:
                raise
            if not ids:
                raise BackendError(f"{self.base_url} lists no models; name one: openai:{self.base_url}#MODEL")
            self._model = ids[0]
        return self._model

    def _kwargs(self, request: dict[str, Any]) -> dict[str, Any]:
        req = {**request, "model": request.get("model") or self.model}
        kwargs = {k: v for k, v in req.items() if k in _SDK_KEYS}
        extra = {k: v for k, v in req.items() if k not in _SDK_KEYS and k != "stream"}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run an SDK call, turning its exceptions into ours (transient ones are retried)."""
        o = self._openai
        try:
            return fn()
        except o.APITimeoutError:
            raise TransientError(f"{self.base_url} timed out after {self.timeout:g} s") from None
        except o.APIConnectionError:
            raise TransientError(f"cannot reach the server at {self.base_url}") from None
        except o.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            err = body.get("error", body) if isinstance(body, dict) else {}
            msg = (err.get("message") if isinstance(err, dict) else None) or str(exc.message)
            if exc.status_code in (408, 429) or exc.status_code >= 500:
                raise TransientError(f"{self.base_url} answered {exc.status_code}: {msg}") from None
            info = dict(err) if isinstance(err, dict) else {}
            info.setdefault("message", msg)
            info.setdefault("code", exc.status_code)
            self._raise_error(info)
        except o.APIResponseValidationError:
            raise BackendError(f"{self.base_url} returned a response that is not OpenAI-compatible") from None
        except ValueError as exc:  # JSON decoding of a garbage body
            raise BackendError(f"{self.base_url} returned garbage: {str(exc)[:100]}") from None

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        resp = self._call(lambda: self.client.chat.completions.create(**self._kwargs(request)))
        if isinstance(resp, str) or not hasattr(resp, "model_dump"):
            raise BackendError(f"{self.base_url} returned garbage: {str(resp)[:100]!r}")
        data = resp.model_dump()
        if not data.get("choices"):
            raise BackendError(f"{self.base_url} returned no choices: {str(data)[:160]}")
        return data

    def _stream(self, request: dict[str, Any], on_chunk: Callable[[dict], bool]) -> None:
        kwargs = self._kwargs(request)
        kwargs["stream"] = True
        stream = self._call(lambda: self.client.chat.completions.create(**kwargs))

        def consume() -> None:
            try:
                for chunk in stream:
                    if on_chunk(chunk.model_dump()):
                        break
            finally:
                stream.close()

        self._call(consume)

    def close(self) -> None:
        self.client.close()
