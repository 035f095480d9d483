"""Marketing copy written by the embedded model, for the genre model's `marketing` class.

    python -m bimo.curate.data.generate_marketing --out ~/.cache/bimo-corpora/marketing_generated.jsonl

No openly licensed human ad copy was found in the registries the build may use, so the
training side of the class is partly model-written (as FineWeb-Edu and CCI build their
classifiers from model annotations). Each record keeps its prompt and model URI and is marked
`generated`; `build_default_models` trains on these, never evaluates on them. Products ×
styles × language vary the prompts; near-copies are dropped (`dedup`). The run stops at
`--minutes` and appends, so it can be resumed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

PRODUCTS_ZH = ["无线蓝牙耳机", "电动牙刷", "有机绿茶", "儿童绘本", "空气净化器", "瑜伽垫", "手冲咖啡豆", "智能手表",
               "防晒霜", "登山背包", "电饭煲", "在线英语课程", "健身房年卡", "民宿", "新能源汽车", "扫地机器人",
               "手工皂", "保温杯", "床垫", "云南旅游线路", "护手霜", "机械键盘", "月饼礼盒", "宠物猫粮",
               "办公椅", "电子书阅读器", "老火锅底料", "洗衣凝珠", "羽绒服", "儿童编程课", "降噪耳机", "茶具套装"]
PRODUCTS_EN = ["wireless earbuds", "an electric toothbrush", "organic green tea", "a children's picture book",
               "an air purifier", "a yoga mat", "single-origin coffee beans", "a smartwatch", "sunscreen",
               "a hiking backpack", "a rice cooker", "an online language course", "a gym membership",
               "a seaside guesthouse", "an electric car", "a robot vacuum", "handmade soap", "a travel mug",
               "a mattress", "a guided tour of Scotland", "hand cream", "a mechanical keyboard",
               "a holiday gift box", "premium cat food", "an office chair", "an e-reader", "a meal-kit service",
               "laundry pods", "a down jacket", "a coding bootcamp", "noise-cancelling headphones", "a tea set"]
STYLES_ZH = ["电商商品详情页文案", "朋友圈推广文案", "品牌故事式广告", "促销活动海报文案", "产品发布会新闻稿开头",
             "温情路线的广告文案", "突出参数卖点的推广文案", "小红书风格种草文案"]
STYLES_EN = ["a product page description", "a social media ad", "a brand-story advertisement",
             "a sale announcement", "a press-release style product launch", "an emotional TV-spot script",
             "a feature-focused promotional blurb", "an email newsletter promotion"]


def prompts(seed: int = 0) -> list[dict]:
    """Every (language, product, style) prompt once, in a seeded order (zh and en interleaved)."""
    rng = random.Random(seed)
    zh = [{"lang": "zh", "product": p, "style": s,
           "prompt": f"请为“{p}”写一段{s}，80到150字，写出具体卖点，带上优惠或行动号召，只输出文案正文，不要标题、列表和说明。"}
          for p in PRODUCTS_ZH for s in STYLES_ZH]
    en = [{"lang": "en", "product": p, "style": s,
           "prompt": f"Write {s} for {p}, 50 to 90 words, with concrete selling points and a call to action. "
                     "Output only the copy itself as one paragraph, no title, list or notes."}
          for p in PRODUCTS_EN for s in STYLES_EN]
    rng.shuffle(zh)
    rng.shuffle(en)
    return [x for pair in zip(zh, en, strict=False) for x in pair]


_PLACEHOLDER = re.compile(r"\[[^\]]*(?:Name|Brand|Link|名称|品牌)[^\]]*\]|以下是|Here is|Here's|Sure[,!]", re.I)


def clean(text: str) -> str:
    """The copy without the chat model's Markdown: emphasis marks, heading marks and wrapping quotes."""
    text = re.sub(r"\*\*|__|^#+\s*", "", text, flags=re.M)
    return "\n".join(ln.strip().strip('"“”') for ln in text.strip().splitlines()).strip()


def dedup(rows: list[dict], threshold: float = 0.6) -> list[dict]:
    """Cleaned records (`clean`), without near-copies (character 3-gram Jaccard with an earlier kept
    record at `threshold` or more), template placeholders ("[Brand Name]") or a chat preamble, and
    without texts too short to be copy (a refusal or a title)."""
    kept: list[tuple[set[str], dict]] = []
    for r in rows:
        r = {**r, "text": clean(r["text"])}
        if _PLACEHOLDER.search(r["text"]):
            continue
        t = "".join(r["text"].split())
        grams = {t[i:i + 3] for i in range(len(t) - 2)}
        if len(t) < 60 or any(len(grams & g) / max(1, len(grams | g)) >= threshold for g, _ in kept):
            continue
        kept.append((grams, r))
    return [r for _, r in kept]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="local:small")
    ap.add_argument("--minutes", type=float, default=25.0)
    args = ap.parse_args()
    from bimo.llm import get_backend

    out = Path(args.out)
    done = set()
    if out.exists():
        done = {json.loads(ln)["prompt"] for ln in out.read_text(encoding="utf-8").splitlines() if ln.strip()}
    llm = get_backend(args.model, n_ctx=2048, parallel=1, threads=1)
    stop = time.monotonic() + args.minutes * 60
    with out.open("a", encoding="utf-8") as f:
        for p in prompts():
            if p["prompt"] in done:
                continue
            if time.monotonic() > stop:
                break
            c = llm.chat(p["prompt"], temperature=0.9, max_tokens=220, repeat_penalty=1.1, seed=len(done))
            done.add(p["prompt"])
            f.write(json.dumps({**p, "text": c.text.strip(), "model": args.model, "generated": True},
                               ensure_ascii=False) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
