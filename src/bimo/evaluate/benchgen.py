"""Regenerate `benchmarks/prompts/bimo_bench.jsonl`, the bimo-bench instruction set.

Hand-written topics and source passages for four domains (data: `bench_material.yaml`)
are combined with hand-written task phrasings (ten writing tasks, Chinese and English) into
instructions. Each domain x task cell gets three Chinese and two English items,
so the set is 60% Chinese; a few `write` items also carry a required `length`
for the length score. The choice of topic, passage and phrasing rotates with a
fixed seed, so the file is reproducible:

    python -m bimo.evaluate.benchgen benchmarks/prompts/bimo_bench.jsonl
"""

from __future__ import annotations

import random
import sys

from bimo.templates import load_package_yaml

DOMAINS = ("fiction", "creative_nonfiction", "marketing", "technical")
TASKS = ("write", "outline", "expand", "condense", "polish", "style_transfer", "review", "brainstorm", "title", "chat")
NEEDS_INPUT = {"expand", "condense", "polish", "style_transfer", "review", "title"}

#: topics and passages per domain and language, task phrasings, styles, audiences, lengths
_M = load_package_yaml("bimo.evaluate", "bench_material.yaml")
TOPICS, PASSAGES, PHRASES, LENGTHS = _M["topics"], _M["passages"], _M["phrases"], _M["lengths"]
STYLES, AUDIENCES, GENRE = _M["styles"], _M["audiences"], _M["genre"]


def generate(seed: int = 2024) -> list[dict]:
    rng = random.Random(seed)
    items: list[dict] = []
    for domain in DOMAINS:
        for task in TASKS:
            for lang, n in (("zh", 3), ("en", 2)):
                topics = rng.sample(TOPICS[domain][lang], n)
                passages = PASSAGES[domain][lang]
                for k in range(n):
                    tpl = PHRASES[task][lang][k % len(PHRASES[task][lang])]
                    genre = GENRE[domain][0 if lang == "zh" else 1]
                    prompt = tpl.format(topic=topics[k], genre=genre, aud=rng.choice(AUDIENCES[lang]),
                                        style=rng.choice(STYLES[lang]))
                    item = {"prompt": prompt, "task": task, "domain": domain, "lang": lang}
                    if task in NEEDS_INPUT:
                        item["input"] = passages[(k + rng.randrange(len(passages))) % len(passages)]
                    items.append(item)
        # length-constrained writing, for the length score S_l
        for lang in ("zh", "en"):
            for length in rng.sample(LENGTHS[lang], 3 if lang == "zh" else 2):
                topic = rng.choice(TOPICS[domain][lang])
                genre = GENRE[domain][0 if lang == "zh" else 1]
                prompt = (f"以“{topic}”为题材写一篇{genre}，全文约 {length} 字。" if lang == "zh"
                          else f"Write a {genre} about {topic}, about {length} words long.")
                items.append({"prompt": prompt, "task": "write", "domain": domain, "lang": lang, "length": length})
    for k, item in enumerate(items, 1):
        item["id"] = f"bb-{k:03d}"
    return [{"id": it.pop("id"), **it} for it in items]


def main(argv: list[str]) -> None:
    from bimo.io import atomic_write_jsonl

    out = argv[0] if argv else "benchmarks/prompts/bimo_bench.jsonl"
    items = generate()
    atomic_write_jsonl(out, items)
    print(f"{len(items)} instructions -> {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
