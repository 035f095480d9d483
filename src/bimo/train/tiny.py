"""A tiny randomly-initialised chat model and toy data, built offline in seconds.

Used by the tests and the benchmark so the whole train -> export -> load path runs with
no downloads: a byte-level BPE tokenizer trained on the toy corpus, a ChatML template
with `{% generation %}` markers (assistant-only loss), and a 2-layer Llama.
"""

from __future__ import annotations

import random
from pathlib import Path

from bimo.io import atomic_write_jsonl

CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TOPICS = ["river", "mountain", "city", "garden", "winter", "ocean", "forest", "lantern", "letter", "market"]
GOOD = ["quiet", "bright", "gentle", "vivid", "patient", "tender", "clear", "warm"]
BAD = ["thing", "stuff", "good", "nice", "very", "okay", "whatever", "so"]


def sft_records(n: int = 64, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic, adj = rng.choice(TOPICS), rng.choice(GOOD)
        out.append({
            "messages": [
                {"role": "system", "content": "You are a careful writer."},
                {"role": "user", "content": f"Write one line about the {topic}."},
                {"role": "assistant", "content": f"The {adj} {topic} keeps its own slow time, and the light stays {rng.choice(GOOD)}."},
            ],
            "meta": {"id": f"sft-{i}", "topic": topic},
        })
    return out


def preference_records(n: int = 32, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        out.append({
            "prompt": [{"role": "user", "content": f"Write one line about the {topic}."}],
            "chosen": [{"role": "assistant", "content": f"The {rng.choice(GOOD)} {topic} hums under a {rng.choice(GOOD)} sky."}],
            "rejected": [{"role": "assistant", "content": f"{topic} is {rng.choice(BAD)} {rng.choice(BAD)} {rng.choice(BAD)}."}],
            "meta": {"id": f"pref-{i}"},
        })
    return out


def text_records(n: int = 32, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"id": f"doc-{i}", "text": " ".join(f"The {rng.choice(GOOD)} {rng.choice(TOPICS)} waits." for _ in range(6)), "metadata": {}}
        for i in range(n)
    ]


def build_tiny_model(out_dir: Path, *, hidden: int = 64, layers: int = 2, vocab: int = 512, seed: int = 0) -> Path:
    """Write tokenizer + random Llama to `out_dir` (an HF checkpoint folder) and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [m["content"] for r in sft_records(200) for m in r["messages"]]
    corpus += [m["content"] for r in preference_records(100) for k in ("chosen", "rejected") for m in r[k]]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    tok.chat_template = CHATML
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def write_toy_data(out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"sft": out_dir / "sft.jsonl", "dpo": out_dir / "pairs.jsonl", "pretrain": out_dir / "text.jsonl"}
    atomic_write_jsonl(paths["sft"], sft_records())
    atomic_write_jsonl(paths["dpo"], preference_records())
    atomic_write_jsonl(paths["pretrain"], text_records())
    return paths
