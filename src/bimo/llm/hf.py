"""A transformers checkpoint run with torch: `hf:PATH` (needs the `[train]` extra).

Used for models trained here before they are exported to GGUF. transformers has no
grammar-constrained decoding, so a JSON schema is enforced by instruction plus
validation (a parse failure raises, and callers retry), not by a grammar.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.extras import require
from bimo.llm.base import Backend


class HFBackend(Backend):
    def __init__(self, path: str | Path, *, uri: str | None = None, threads: int | None = None) -> None:
        super().__init__()
        require("train", "hf: models", ("torch", "transformers"))
        import torch
        import transformers

        path = Path(path)
        if not (path / "config.json").exists():
            raise BimoError(f"no transformers checkpoint (config.json) in {path}")
        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.uri = uri or f"hf:{path}"
        self.tok = transformers.AutoTokenizer.from_pretrained(path)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.model.eval()
        self.n_ctx = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        self.parallel = 1
        self._lock = threading.Lock()

    def _prompt_ids(self, request: dict[str, Any]):
        messages = list(request["messages"])
        fmt = request.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            hint = "Answer with JSON only, matching this JSON schema:\n" + json.dumps(schema, ensure_ascii=False)
            messages = [{"role": "system", "content": hint}, *messages]
        ids = self.tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
        n = int(ids["input_ids"].shape[1])
        if n >= self.n_ctx:
            return ids, n, {"message": "prompt exceeds the context", "type": "exceed_context_size_error",
                            "n_prompt_tokens": n, "n_ctx": self.n_ctx}
        return ids, n, None

    def _generate(self, request: dict[str, Any], streamer=None) -> tuple[str, int, int, str, dict[str, Any] | None]:
        """(text, prompt tokens, new tokens, finish reason or an error as JSON, first-token
        logprobs in OpenAI's shape when the request asks for them)."""
        torch = self.torch
        ids, n_prompt, err = self._prompt_ids(request)
        if err:
            return "", n_prompt, 0, json.dumps(err), None
        temperature = float(request.get("temperature", 0.7))
        kwargs: dict[str, Any] = {
            "max_new_tokens": min(int(request.get("max_tokens", 256)), self.n_ctx - n_prompt),
            "do_sample": temperature > 0,
            "pad_token_id": self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(request.get("top_p", 1.0)))
        if request.get("stop"):
            kwargs.update(stop_strings=list(request["stop"]), tokenizer=self.tok)
        if streamer is not None:
            kwargs["streamer"] = streamer
        top_n = int(request.get("top_logprobs") or 0) if request.get("logprobs") else 0
        if top_n:
            kwargs.update(output_scores=True, return_dict_in_generate=True)
        with self._lock, torch.no_grad():
            if request.get("seed") is not None:
                torch.manual_seed(int(request["seed"]))
            out = self.model.generate(**ids, **kwargs)
        logprobs = None
        if top_n:
            logprobs, out = self._top_logprobs(out.scores, top_n), out.sequences
        new = out[0, n_prompt:]
        text = self.tok.decode(new, skip_special_tokens=True)
        for s in request.get("stop") or []:
            if s in text:
                text = text[: text.index(s)]
        finish = "length" if len(new) >= kwargs["max_new_tokens"] else "stop"
        return text, n_prompt, int(len(new)), finish, logprobs

    def _top_logprobs(self, scores: Any, n: int) -> dict[str, Any]:
        """OpenAI's `logprobs` shape for the first generated token (what judges read)."""
        logp = self.torch.log_softmax(scores[0][0].float(), dim=-1)
        values, ids = logp.topk(min(n, logp.shape[-1]))
        top = [{"token": self.tok.decode([int(i)]), "logprob": float(v)} for v, i in zip(values, ids, strict=True)]
        return {"content": [{**top[0], "top_logprobs": top}]}

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        text, n_prompt, n_new, finish, logprobs = self._generate(request)
        if finish.startswith("{"):
            return {"error": json.loads(finish)}
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        if logprobs:
            choice["logprobs"] = logprobs
        return {"choices": [choice], "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_new}}

    def _stream(self, request: dict[str, Any], on_chunk: Callable[[dict], bool]) -> None:
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tok, skip_prompt=True, skip_special_tokens=True)
        result: dict[str, Any] = {}

        def run() -> None:
            result["out"] = self._generate(request, streamer)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        # generate cannot be interrupted mid-call: after the caller asks to stop, the rest is
        # still passed on (and drained), so the text matches the tokens the usage counts
        for piece in streamer:
            if piece:
                on_chunk({"choices": [{"index": 0, "delta": {"content": piece}}]})
        worker.join()
        text, n_prompt, n_new, finish, _ = result["out"]
        if finish.startswith("{"):
            on_chunk({"error": json.loads(finish)})
            return
        on_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                  "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_new}})
