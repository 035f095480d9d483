"""Instruction backtranslation (Weaver, Humpback; Ziya's answer-to-instruction).

Curated human documents (`{"id", "text", "metadata"}`) become SFT pairs in three small
steps, each a short JSON answer a 1.5B model gives reliably:

1. describe the passage (topic, key content, tone, audience; language, length, paragraphs
   and sentences are measured by code; the form comes from the curation genre model) — one record per document, written to
   OUT.plan.jsonl; documents that cannot give a pair (no text, only markup, a language bimo
   does not handle, too short) are recorded there with the reason;
2. choose the tasks that fit the form and length (a narrative suits write / expand /
   polish / style; an argument outline / condense / review; a short passage title /
   brainstorm), by code, instead of drawing tasks blind;
3. write the instruction for one (document, task), shown the annotated examples closest to
   the passage in length and domain. The anchored field (the answer, or for analysis tasks
   the material) is the passage itself, set by code, so the answer *is* human writing; the
   length clause of the request is filled in from the measured passage.

Checks before the model-scored self-curation, each with its own reason: the instruction
names no form the passage is not (a "sentence" for a paragraph, a "poem" for prose); its
content words are grounded in the passage; it copies no annotated example; an imagined
draft is not the answer itself, nor a verbatim piece of it; a wordy version to condense is
longer than the passage; the request is in the passage's language. Then self-curation
(Humpback's step, cut to one question): the scorer is asked whether the reply is what the
request asks for and answers one token; the score is P(yes) / (P(yes) + P(no)) read from
its probabilities (one token, no decoded verdict), and pairs below `threshold` are dropped.
Measured against a person's reading (benchmarks/synth_scorer.py, docs/synth.md): with the
embedded 1.5B model no read, this one included, ranks pairs better than chance on held-out
pairs; the checks above carry the faithfulness. Near-identical instructions are dropped.

One runner record = one (document, task), keyed `DOC_ID#TASK`, so resume is per pair.

Generators (`generator`): `prompted` (the default) is step 3 above. A model URI instead names
a trained backward model (Ziya's answer-to-instruction model: `bimo synth backward-model` ->
`bimo train sft` -> `bimo train export`): it is shown the passage exactly as its training
records showed it (`backward_messages`, shared with `BackwardStep`) and writes the whole
request in one call, no task drawn (task `backward`, one record per document, keyed
`DOC_ID#backward`); the description, the checks, the measured length clause and the
self-curation are the same code as for the prompted generator, and use `--model`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from bimo.errors import BimoError
from bimo.io import twin_path
from bimo.llm.base import Backend, GenParams, Message
from bimo.llm.uri import ModelURI
from bimo.runner import GenerationStep, Reject
from bimo.synth.common import REASONING, STR, lang_of, object_schema, prompts
from bimo.synth.records import sft, split_request, user_prompt
from bimo.synth.verify import NearDuplicates, similarity, span_score
from bimo.templates import load_package_yaml, render
from bimo.text import count_length, detect_lang, sentence_spans

TASK_ORDER = ("write", "outline", "expand", "condense", "polish", "style", "review", "brainstorm", "title", "chat")
#: the default generator: the instruction is written by the prompted model in three steps
PROMPTED = "prompted"
#: the task of a pair whose request a backward model wrote (it is told no task)
BACKWARD = "backward"
#: settings that steer the prompted generator only (a backward model is told no task and shown no examples)
PROMPTED_ONLY = ("tasks", "tasks_per_doc", "examples")


@cache
def task_table() -> dict[str, Any]:
    return load_package_yaml("bimo.synth.prompts", "tasks.yaml")


def domains() -> list[str]:
    return list(task_table()["domains"])


def task_spec(task: str) -> dict[str, Any]:
    """A task's entry in tasks.yaml; for `backward`, the passage is the answer (anchor output),
    material is optional, and the examples a copy is checked against are those of every task
    whose answer is the passage (what the backward model's training requests were made from)."""
    tasks = task_table()["tasks"]
    if task != BACKWARD:
        return tasks[task]
    answers = [t for t in tasks.values() if t["anchor"] == "output"]
    return {"anchor": "output", "input": "optional", "name": {"en": BACKWARD, "zh": BACKWARD},
            "examples": {lang: [ex for t in answers for ex in t["examples"][lang]] for lang in ("zh", "en")}}


def check_generator(value: str, what: str = "generator") -> str:
    """`prompted`, or a model URI (the trained backward model); a one-line BimoError otherwise."""
    value = value.strip()
    if value == PROMPTED:
        return value
    if ":" not in value:
        raise BimoError(f"{what}: {value!r} is neither {PROMPTED!r} nor a model URI of a trained backward model "
                        "(gguf:PATH, local:NAME, openai:URL#MODEL, hf:PATH)")
    ModelURI.parse(value, what)
    return value


def check_prompted_only(generator: str, given: Iterable[str], flags: bool = False, prefix: str = "") -> None:
    """Settings only the prompted generator uses, set with a backward model: a one-line BimoError
    naming the first (as a command-line flag with `flags`)."""
    used = [k for k in PROMPTED_ONLY if k in set(given)]
    if generator != PROMPTED and used:
        name = "--" + used[0].replace("_", "-") if flags else used[0]
        if prefix:
            name = f"{prefix}.{name}"
        raise BimoError(f"{name}: only the prompted generator chooses tasks and shows examples; "
                        f"a backward model ({generator}) writes one request per document")


class BacktranslateConfig(BaseModel):
    """Settings for `bimo synth backtranslate`."""

    tasks: list[str] = Field(default_factory=lambda: list(TASK_ORDER), description="task types to consider")
    tasks_per_doc: int = Field(2, ge=1, description="task types per document, the best fitting first")
    threshold: float = Field(0.85, ge=0, le=1, description="keep pairs whose self-curation score, the scorer's "
                                                            "P(yes) that the reply is what the request asks for, is at least this")
    score: bool = Field(True, description="run the self-curation call (one token, read from its probabilities)")
    min_grounding: float = Field(0.5, ge=0, le=1,
                                 description="least share of the instruction's content words found in the passage")
    max_source_chars: int = Field(1200, ge=50, description="longest source passage shown to the model")
    examples: int = Field(2, ge=0, le=8, description="annotated examples shown per prompt (stable choice per pair)")
    dedup: float = Field(90.0, ge=50, le=100, description="instruction similarity counted as duplicate")
    max_tokens: int = Field(1024, ge=16)
    temperature: float = Field(0.7, ge=0, le=2)
    seed: int = 0
    generator: str = Field(PROMPTED, description="who writes the instruction: 'prompted' (three prompted steps) "
                                                 "or the model URI of a trained backward model (one call)")

    @field_validator("generator")
    @classmethod
    def _generator(cls, value: str) -> str:
        try:
            return check_generator(value)
        except BimoError as exc:
            raise ValueError(str(exc).removeprefix("generator: ")) from None

    @model_validator(mode="after")
    def _prompted_only(self) -> BacktranslateConfig:
        try:
            check_prompted_only(self.generator, self.model_fields_set)
        except BimoError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def backward(self) -> bool:
        return self.generator != PROMPTED


def passage(text: str, max_chars: int) -> str:
    """The start of the document, whole paragraphs (or sentences) up to `max_chars`."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    out = ""
    for para in re.split(r"\n\s*\n", text):
        if out and len(out) + len(para) + 2 > max_chars:
            return out
        out = f"{out}\n\n{para}" if out else para
        if len(out) > max_chars:
            break
    # one paragraph is too long: cut at the last sentence end inside the budget
    cut = max((out.rfind(p, 0, max_chars) for p in "。！？.!?"), default=-1)
    return out[: cut + 1] if cut > max_chars // 3 else out[:max_chars]


# --- 1. describe the passage, 2. choose the tasks that fit it ------------------------------

#: forms of writing and the tasks each suits (a narrative passage is the answer to a request
#: to write, expand, polish or restyle it; an essay or report is material to outline,
#: condense or review; anything short suits titles and ideas)
FORM_TASKS: dict[str, tuple[str, ...]] = {
    "narrative": ("write", "expand", "polish", "style", "title"),
    "essay": ("outline", "review", "write", "title", "condense"),
    "news": ("title", "write", "outline", "condense"),
    "product copy": ("write", "title", "polish", "brainstorm"),
    "technical": ("outline", "chat", "title", "condense"),
    "poem": ("write", "review", "title"),
    "other": ("write", "title", "brainstorm"),
}
#: the curation genre model's labels (`bimo curate` writes them as `metadata.genre_fine`) as forms.
#: The form comes from that classifier, not from the 1.5B describer: asked to pick a form, the
#: describer called 7 of 10 development passages "essay" (news, product copy, a dialogue scene)
GENRE_FORM = {"fiction": "narrative", "poetry": "poem", "news": "news", "nonfiction": "essay",
              "classical": "essay", "technical": "technical", "marketing": "product copy"}
SHORT_TASKS = ("title", "brainstorm", "polish", "write")
SHORT = 40  # length units: below this a passage suits only short jobs
DESCRIBE_SCHEMA = object_schema(
    topic={"type": "string", "maxLength": 80}, key_content={"type": "string", "maxLength": 240},
    tone={"type": "string", "maxLength": 40}, audience={"type": "string", "maxLength": 60})


@cache
def _genre_model() -> Any:
    from bimo.curate.classifier import TextClassifier, default_model_path

    return TextClassifier.load(default_model_path("genre"))


#: below this confidence the genre model's label is not trusted and the passage counts as an
#: essay, whose tasks (outline, condense, review, write, title) suit any prose
MIN_FORM_CONFIDENCE = 0.5


def is_verse(text: str) -> bool:
    """Lines short enough to be verse: a prose paragraph is one long line."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 2 and sum(count_length(ln) for ln in lines) / len(lines) <= 20


def form_of(text: str, metadata: dict[str, Any] | None = None) -> tuple[str, float]:
    """The passage's form and the genre model's confidence: the label `bimo curate` stored
    (`metadata.genre_fine`) when there is one, else the shipped genre model's; an unsure label,
    or "poem" for text not set in verse lines, gives "essay"."""
    fine, p = (metadata or {}).get("genre_fine"), float((metadata or {}).get("genre_score") or 1.0)
    if fine not in GENRE_FORM:
        fine, p = _genre_model().predict(text)
    form = GENRE_FORM.get(fine, "essay")
    if p < MIN_FORM_CONFIDENCE or (form == "poem" and not is_verse(text)):
        form = "essay"
    return form, round(p, 4)


_MARKUP = re.compile(r"<[^>]{0,200}>|&[a-z]+;|&#\d+;|\[[^\]]{0,80}\]\([^)]{0,200}\)|^[#>*\-|=`~ ]+", re.M)


def readable_text(text: str) -> str:
    """The text with markup (tags, entities, Markdown links and line prefixes) taken out."""
    return re.sub(r"[ \t]+", " ", _MARKUP.sub(" ", text)).strip()


def measure(text: str) -> dict[str, Any]:
    """Facts code can state about a passage: language, length, paragraphs, sentences."""
    lang = lang_of(text)
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return {"lang": lang, "length": count_length(text), "unit": "字" if lang == "zh" else "words",
            "paragraphs": len(paras), "sentences": len(sentence_spans(text))}


def unusable(text: str, config: BacktranslateConfig) -> str | None:
    """Why a document cannot give any pair (no text, only markup, a language bimo does not
    handle, too short for any task), or None."""
    if not text.strip():
        return "no text"
    plain = readable_text(text)
    if not any(ch.isalpha() for ch in plain):
        return "only markup, no prose"
    lang = detect_lang(plain)
    if lang not in ("zh", "en"):
        return f"unsupported language ({lang}; bimo handles Chinese and English)"
    table = task_table()["tasks"]
    shortest = min(int(table[t].get("min_length", 0)) for t in config.tasks if t in table)
    n = count_length(passage(plain, config.max_source_chars))
    if n < shortest:
        return f"too short for any task ({n} < {shortest} length units)"
    return None


def choose_tasks(doc_id: str, form: str | None, length: int, config: BacktranslateConfig) -> list[str]:
    """The tasks that suit the passage's form and length, in their order of fit, up to
    `tasks_per_doc`. With no form (or none of its tasks fits the length): the tasks that fit
    the length, in a stable pseudo-random order per document (resume-safe)."""
    table = task_table()["tasks"]
    suited = () if form is None else SHORT_TASKS if length < SHORT else FORM_TASKS.get(form, FORM_TASKS["other"])
    ok = [t for t in suited if t in config.tasks and t in table
          and int(table[t].get("min_length", 0)) <= length <= int(table[t].get("max_length", 10**9))]
    if not ok:  # the form's tasks do not fit this length: anything that does
        ok = sorted((t for t in config.tasks if t in table and int(table[t].get("min_length", 0)) <= length
                     <= int(table[t].get("max_length", 10**9))),
                    key=lambda t: hashlib.sha1(f"{config.seed}:{doc_id}:{t}".encode()).hexdigest())
    return ok[: config.tasks_per_doc]


class DescribeStep(GenerationStep):
    """Step 1 and 2, one record per document: check the document is usable, ask the model
    to describe the passage (a small JSON object), then choose the tasks that fit by code."""

    name = "describe"

    def __init__(self, backend: Backend, config: BacktranslateConfig | None = None):
        self.config = config or BacktranslateConfig()
        super().__init__(backend, GenParams(temperature=0.2, max_tokens=256, seed=self.config.seed))

    def key(self, record: dict[str, Any]) -> str:
        return doc_key(record)

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        text = str(record.get("text") or "")
        why = unusable(text, self.config)
        if why:
            raise Reject(why, retry=False)
        src = passage(readable_text(text) if _MARKUP.search(text) else text, self.config.max_source_chars)
        facts = measure(src)
        p = prompts("backtranslate", facts["lang"])
        out = self.generate([{"role": "system", "content": p["describe"].strip()},
                             {"role": "user", "content": render(p["user"], source=src)}],
                            attempt, schema=DESCRIBE_SCHEMA)
        if not isinstance(out, dict) or not str(out.get("topic") or "").strip():
            raise Reject("description is not a JSON object with a topic")
        form, confidence = form_of(src, record.get("metadata"))
        desc = {k: str(out.get(k) or "").strip() for k in DESCRIBE_SCHEMA["properties"]} | facts
        desc |= {"form": form, "form_confidence": confidence}
        tasks = [BACKWARD] if self.config.backward else choose_tasks(doc_key(record), desc["form"], facts["length"],
                                                                    self.config)
        if not tasks:
            raise Reject(f"no task fits a {desc['form']} passage of {facts['length']} length units", retry=False)
        return [{"doc_id": doc_key(record), "source": src, "description": desc, "tasks": tasks,
                 "metadata": record.get("metadata") or {}, "meta": {"form": desc["form"], "lang": facts["lang"]}}]


def doc_key(doc: dict[str, Any]) -> str:
    text = str(doc.get("text") or "")
    return str(doc.get("id") or hashlib.sha1(text.encode()).hexdigest()[:12])


def expand_plan(plans: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Described documents → one work record per (document, chosen task)."""
    for plan in plans:
        for task in plan.get("tasks") or []:
            yield {"id": f"{plan['doc_id']}#{task}", "doc_id": plan["doc_id"], "task": task,
                   "source": plan["source"], "description": plan.get("description") or {},
                   "metadata": plan.get("metadata") or {}}


def expand_docs(docs: Iterable[dict[str, Any]], config: BacktranslateConfig,
                limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Documents → work records without a model description (tasks by length alone): for
    tests and for callers that describe passages themselves."""
    for n, doc in enumerate(docs):
        if limit is not None and n >= limit:
            return
        text = str(doc.get("text") or "")
        src = passage(text, config.max_source_chars)
        desc = {"form": "other"} | measure(src)
        plan = {"doc_id": doc_key(doc), "source": src, "description": desc, "metadata": doc.get("metadata") or {},
                "tasks": choose_tasks(doc_key(doc), None, desc["length"], config)}
        yield from expand_plan([plan])


# --- 3. write the instruction ---------------------------------------------------------------

def pick_examples(examples: list[dict[str, Any]], length: int, domain: str | None, n: int) -> list[dict[str, Any]]:
    """The `n` annotated examples closest to the passage: in length (log ratio) and domain."""
    def distance(ex: dict[str, Any]) -> float:
        ratio = math.log((count_length(ex["source"]) + 5) / (length + 5))
        return abs(ratio) + (0 if not domain or ex["json"].get("domain") == domain else 0.7)
    return sorted(examples, key=distance)[:n]


def example_json(example: dict[str, Any], anchor: str) -> str:
    """An example as the complete answer the schema asks for, reasoning first (the anchored
    field is the passage itself and is filled by code, so it is not part of the answer)."""
    ans = example["json"]
    full = {"reasoning": example["reasoning"], "instruction": ans["instruction"]}
    full.update({"input": ans.get("input", "")} if anchor == "output" else {"output": ans["output"]})
    return json.dumps(full, ensure_ascii=False)


def copies_example(text: str, task: str, lang: str) -> bool:
    """True when `text` is taken from one of the task's annotated examples (a small-model habit):
    from an example's passage, or from an example's request that names that example's own
    content. A request with no content words of its own ("为这段文字列一个简要提纲。") fits any
    passage, so repeating it is no copy."""
    if count_length(text) < 4:
        return False
    exs = task_spec(task)["examples"][lang]
    texts = [ex["source"] for ex in exs] + [ex["json"]["instruction"] for ex in exs
                                            if content_units(ex["json"]["instruction"], lang)]
    return any(span_score(text, t) >= 90 or span_score(t, text) >= 90 for t in texts)


def length_clause(desc: dict[str, Any], lang: str) -> str:
    """The measured length and shape of the passage, as the request states it."""
    n = int(desc.get("length") or 0)
    approx = round(n, -1) if n < 300 else round(n, -2)
    paras = int(desc.get("paragraphs") or 1)
    if lang == "zh":
        return f"篇幅约{approx}字" + (f"，分{paras}段" if paras > 1 else "") + "。"
    return f"About {approx} words" + (f", in {paras} paragraphs" if paras > 1 else "") + "."


#: a length clause as `length_clause` writes it, at the end of a request: a backward model
#: learnt it from its training pairs, with numbers true of *their* passages, so it is replaced
_CLAUSE_END = {"zh": re.compile(r"\s*篇幅约\d+字(?:，分\d+段)?。\s*$"),
               "en": re.compile(r"\s*About \d+ words(?:, in \d+ paragraphs)?\.\s*$")}


def strip_length_clause(instruction: str, lang: str) -> str:
    """The request without a trailing length clause of `length_clause`'s shape."""
    return _CLAUSE_END[lang].sub("", instruction).strip()


#: tasks whose answer is the passage, so its measured length is part of the request
LENGTH_TASKS = ("write", "expand", "condense", "chat", BACKWARD)
_FORMS = {
    "en": {"sentence": r"\b(?:one|a|single|opening|first|closing) sentence\b", "poem": r"\b(?:poem|verse|haiku|sonnet)\b",
           "paragraph": r"\b(?:a|one|single) paragraph\b", "title": r"^(?:write|give|suggest) (?:a|one) title\b"},
    "zh": {"sentence": r"(?:一|两|二)句(?:话)?(?!子)|开头一句|第一句", "poem": r"诗|词(?!语|汇)|绝句|律诗",
           "paragraph": r"一段(?:话|文字)", "title": r"^(?:拟|起)(?:一个)?标题"},
}


def wrong_form(instruction: str, desc: dict[str, Any], lang: str) -> str | None:
    """The form the instruction names when the passage is not of that form, else None."""
    text = instruction.strip().lower() if lang == "en" else instruction
    pats = _FORMS[lang]
    sentences, paras, form = int(desc.get("sentences") or 1), int(desc.get("paragraphs") or 1), desc.get("form")
    if sentences > 2 and re.search(pats["sentence"], text):
        return f"a sentence, but the passage has {sentences} sentences"
    if form != "poem" and re.search(pats["poem"], text):
        return f"a poem, but the passage is {form or 'prose'}"
    if paras > 1 and re.search(pats["paragraph"], text):
        return f"one paragraph, but the passage has {paras}"
    return None


_EN_STOP = set("""a an the and or but of to in on at for with by from as is are was were be been being it its this that
these those there here which who whom what when where why how not no yes you your yours i me my we our they their them
he she his her him about into over under than then so such can could should would will may might must do does did done
write writing rewrite written passage text piece paragraph paragraphs sentence sentences words word short long brief
please make give using use keep style tone version draft notes reader readers audience make sure one two three some
more most very also like just only each every into while after before during up down out new old good
description describe describing product copy blog post article essay story stories scene report news explain explanation
introduction introduce opening ending summary summarize condense outline title titles review critique ideas list points
reflective personal informative engaging vivid concise clear detailed persuasive formal informal narrative memoir
continue expand polish improve tone voice genre form piece content including include includes focus focusing
single main argument arguments numbered beats research paper papers list lists bullet bullets point points section
sections idea theme themes feature features reader writer author article articles document team website page magazine
newspaper column student students class teacher company customer customers general public social media original
following given provided based simple highlight highlighting emphasize emphasizing explaining compelling""".split())
#: request boilerplate taken out of a Chinese instruction before its content is compared
_ZH_GENERIC = sorted(set("""请你 请 帮我 帮忙 给我 我的 我们 你 写一 写成 写出 写 一篇 一段 一首 一句 一个 一则 一份 一些 这段 这篇 这首 这个
下面 以下 原文 文字 文章 内容 关于 围绕 根据 按照 提供 进行 用于 以及 并且 要求 需要 可以 能够 如何 怎样 什么 主题 话题 题目 风格 语气
题材 一款 一位 一次 口吻 读者 受众 篇幅 左右 字数 段落 分段 开头 结尾 结构 层次 要点 提纲 标题 草稿 润色 扩写 缩写 改写 仿写 续写 点评 评论 描写 描述 介绍 说明
讲述 叙述 表达 列出 概述 简述 简短 简要 全文 全篇 信息 包括 包含 特点 特色 重点 指定 只需 必须 应该 注意 突出 强调 体现 展现 展示 结合 整合 不同 相关 方面 部分 整体 感人 鼓舞人心 吸引人 转化 转换 形式 方式 角度 主要 观点 论点 概括 总结 分析 评价 公众号 博客 网站 团队 稿件 语言 生动 简洁 具体 细腻 自然 流畅 清楚 清晰 准确 通俗 散文 随笔 小说 故事 新闻 报道 文案 短文 议论文 说明文 回忆 片段 场景 题目 方向 整理 理清 梳理 精炼 看看 怎么样 优点 哪里 句子 格言 消息 通俗 比喻 看懂 帮忙想 建议 反馈 问题
的 地 得 了 着 过 和 与 及 或 在 是 把 将 对 为 让 以 并 从 中 等 用 其 这 那 些 吗 呢 吧 上 下 里 出 来 去 成 到 要 会 能 也 都 又 很""".split()),
                     key=len, reverse=True)
_ZH_GENERIC_RE = re.compile(r"[一二三四五六七八九十几两多每]+[个条句段点篇首则份种项部件位次遍]|[拟起帮想改让把被给]|"
                            + "|".join(map(re.escape, _ZH_GENERIC)))


@cache
def _request_words() -> frozenset[str]:
    """English words the annotated example requests use that their own passages do not: the
    vocabulary of asking ("suggest", "headlines", "handout", "tighten"), never content."""
    words: set[str] = set()
    for spec in task_table()["tasks"].values():
        for ex in spec["examples"]["en"]:
            src = set(re.findall(r"[a-z]+", (ex["source"] + " " + ex["json"].get("input", "")).lower()))
            words |= {w for w in re.findall(r"[a-z]+", ex["json"]["instruction"].lower()) if w not in src}
    return frozenset(words)


def content_units(text: str, lang: str) -> list[str]:
    """Content words of an instruction: English words of 4+ letters not in a stop list;
    Chinese: the runs of Han characters left once request boilerplate is taken out."""
    if lang == "en":
        words = (re.sub(r"'s$", "", w) for w in re.findall(r"[a-z][a-z'-]{3,}", text.lower()))
        return [w for w in words if w not in _EN_STOP and w not in _request_words()]
    return re.findall(r"[\u4e00-\u9fff]{2,}", _ZH_GENERIC_RE.sub("|", text))


def _stem(word: str) -> str:
    return re.sub(r"(?:ies|es|s|ed|ing|ly|er)$", "", word)[:6]


def grounding(instruction: str, source: str, lang: str) -> tuple[float, list[str]]:
    """Share of the instruction's content words found in the passage, and those missing.
    English words match on a crude stem; Chinese is compared character by character (no
    word segmenter is needed, and an invented name or topic still shows)."""
    units = content_units(instruction, lang)
    if not units:
        return 1.0, []
    if lang == "en":
        have = {_stem(w) for w in re.findall(r"[a-z][a-z'-]+", source.lower())}
        missing = [w for w in units if _stem(w) not in have]
        return 1 - len(missing) / len(units), missing
    chars = "".join(units)
    lost = "".join(ch for ch in chars if ch not in source)
    return 1 - len(lost) / len(chars), [u for u in units if any(ch not in source for ch in u)]


#: the self-curation call: one token, greedy, with the likeliest first tokens' probabilities
SCORE_PARAMS = GenParams(temperature=0.0, max_tokens=1, top_logprobs=10)


def yes_share(comp: Any, yes: list[str], no: list[str]) -> float:
    """P(yes) / (P(yes) + P(no)) of the first answer token (case and spaces forgiven). A
    ValueError (a Reject, retried) when the backend reported no probabilities or neither word."""
    top = comp.first_token_logprobs()
    if not top:
        raise ValueError("the scorer reported no token probabilities; self-curation needs a backend that returns "
                         "logprobs (local:, gguf:, hf:, or an OpenAI server that supports them), or --no-score")
    mass = {True: 0.0, False: 0.0}
    for token, lp in top.items():
        word = token.strip().lower()
        if word in yes or word in no:
            mass[word in yes] += math.exp(lp)
    if not mass[True] and not mass[False]:
        raise ValueError(f"neither yes nor no among the scorer's likeliest first tokens (it began {comp.text[:20]!r})")
    return mass[True] / (mass[True] + mass[False])


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def generation_schema(anchor: str, needs_input: bool) -> dict[str, Any]:
    other = {"input": {"type": "string", "minLength": 2} if needs_input else STR} if anchor == "output" \
        else {"output": {"type": "string", "minLength": 2}}
    return object_schema(reasoning=REASONING, instruction={"type": "string", "maxLength": 300}, **other)


class BacktranslateStep(GenerationStep):
    """Step 3, one record per (document, task): the instruction, written from the passage and
    its description (or, with a backward model as `writer`, from the passage alone in one call);
    the anchored field is the passage itself; the same checks, then self-curation by `backend`."""

    name = "backtranslate"

    def __init__(self, backend: Backend | None, config: BacktranslateConfig | None = None,
                 writer: Backend | None = None):
        self.config = config or BacktranslateConfig()
        super().__init__(backend, GenParams(temperature=self.config.temperature,
                                            max_tokens=self.config.max_tokens, seed=self.config.seed))
        self.dups = NearDuplicates(self.config.dedup)
        if self.config.backward and writer is None:
            raise BimoError(f"the backward generator {self.config.generator} needs its backend")
        self.writer = writer

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"task": record.get("task"), "doc_id": record.get("doc_id"), "domain": self.domain(record),
                "lang": lang_of(record.get("source") or "")}

    @staticmethod
    def domain(record: dict[str, Any]) -> str:
        declared = (record.get("metadata") or {}).get("domain")
        if declared in domains():
            return declared
        form = (record.get("description") or {}).get("form")
        return {"product copy": "marketing", "technical": "technical", "narrative": "fiction",
                "poem": "fiction"}.get(form, "creative_nonfiction")

    def prompt(self, record: dict[str, Any]) -> list[Message]:
        """System: the task and the answer format; the annotated examples closest to the
        passage as earlier turns; last, the passage with its description."""
        lang = lang_of(record["source"])
        p = prompts("backtranslate", lang)
        task = task_table()["tasks"][record["task"]]
        needs_input = task.get("input") == "required"
        if task["anchor"] == "input":
            field_rule = p["output_rule"]
        else:
            field_rule = p["input_required"] if needs_input else p["input_optional"]
        system = render(p["system"], task_name=task["name"][lang], guidance=task["guidance"][lang],
                        field_rule=field_rule, field="output" if task["anchor"] == "input" else "input")
        msgs: list[Message] = [{"role": "system", "content": system}]
        length = count_length(record["source"])
        for ex in pick_examples(task["examples"][lang], length, self.domain(record), self.config.examples):
            msgs += [{"role": "user", "content": render(p["user"], source=ex["source"])},
                     {"role": "assistant", "content": example_json(ex, task["anchor"])}]
        desc = record.get("description") or {}
        about = render(p["about"], **{k: desc.get(k) or "-" for k in ("form", "topic", "key_content", "tone",
                                                                      "audience")}) if desc.get("topic") else ""
        msgs.append({"role": "user", "content": about + render(p["user"], source=record["source"])})
        return msgs

    def write(self, record: dict[str, Any], attempt: int) -> Any:
        """The model's answer: the prompted JSON object, or the backward model's request (free
        text, as it learnt to write it: the instruction, then any material after a blank line)."""
        if record["task"] == BACKWARD:
            if self.writer is None:
                raise BimoError("a backward record needs the backward model (generator) as writer")
            text = self.generate(backward_messages(record["source"]), attempt, backend=self.writer)
            instruction, material = split_request(text)
            return {"reasoning": "", "instruction": instruction, "input": material}
        task = task_table()["tasks"][record["task"]]
        return self.generate(self.prompt(record), attempt,
                             schema=generation_schema(task["anchor"], task.get("input") == "required"))

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        task = task_spec(record["task"])
        pair = self.verify(record, self.write(record, attempt))
        lang = lang_of(record["source"])
        meta = {"task": record["task"], "domain": pair["domain"], "lang": lang, "form": pair["form"],
                "generator": self.config.generator,
                "doc_id": record["doc_id"], "anchor": task["anchor"], "span_match": 100.0,
                "instruction": pair["instruction"], "input": pair["input"], "reasoning": pair["reasoning"],
                "grounding": pair["grounding"], "score": None}
        if self.config.score:
            p = prompts("score", lang)
            score = self.generate(self.score_prompt(pair, lang), attempt, params=SCORE_PARAMS,
                                  read=lambda comp: yes_share(comp, p["yes_words"], p["no_words"]))
            meta["score"] = round(score, 3)
            if score < self.config.threshold:
                raise Reject(f"low quality: self-curation {score:.2f} < {self.config.threshold}", retry=False,
                             detail={"instruction": pair["instruction"], "score": round(score, 3),
                                     "input": pair["input"][:300], "output": pair["output"][:300]})
        return [sft(user_prompt(pair["instruction"], pair["input"]), pair["output"], meta)]

    def verify(self, record: dict[str, Any], out: Any) -> dict[str, Any]:
        """Check the model's answer against the passage; raise Reject with the reason."""
        if not isinstance(out, dict):
            raise Reject("output is not a JSON object")
        task = task_spec(record["task"])
        src, lang = record["source"], lang_of(record["source"])
        desc = {**measure(src), **(record.get("description") or {})}
        pair = {k: str(out.get(k) or "").strip() for k in ("reasoning", "instruction", "input", "output")}
        if record["task"] == BACKWARD:  # its own length clause states its training passages' lengths
            pair["instruction"] = strip_length_clause(pair["instruction"], lang)
        if count_length(pair["instruction"]) < 3:
            raise Reject("instruction missing or too short", detail=pair)
        if lang_of(pair["instruction"]) != lang:
            raise Reject(f"instruction is not in the passage's language ({lang})",
                         detail={"instruction": pair["instruction"]})
        if copies_example(pair["instruction"], record["task"], lang):
            raise Reject("instruction copies an annotated example", detail={"instruction": pair["instruction"]})
        form = wrong_form(pair["instruction"], desc, lang)
        if form:
            raise Reject(f"instruction names the wrong form: {form}", detail={"instruction": pair["instruction"]})
        # the request and the material it brings (an imagined draft or notes) must be about the
        # passage; where the passage is the pasted material ("outline this"), the request need
        # name little of it, so the bar is half as high
        told = pair["instruction"] + ("\n" + pair["input"] if task["anchor"] == "output" else "")
        share, missing = grounding(told, src, lang)
        bar = self.config.min_grounding / (2 if task["anchor"] == "input" else 1)
        if share < bar:
            raise Reject(f"instruction not grounded in the passage ({100 * share:.0f}% of its content words "
                         f"< {100 * bar:.0f}%)", detail={"instruction": pair["instruction"], "missing": missing[:8]})
        if task["anchor"] == "input":  # the passage is the material; the model wrote the answer
            pair["input"] = src
            if count_length(pair["output"]) < 2:
                raise Reject("empty output", detail=pair)
            if similarity(pair["output"], src) > 0.8:
                raise Reject("output copies the passage instead of answering", detail=pair)
        else:  # the passage is the answer; the model imagined the request (and its material)
            pair["output"] = src
            needs_input = task.get("input") == "required"
            if needs_input and count_length(pair["input"]) < 2:
                raise Reject("input is empty (the task needs the draft, notes or plain version)", detail=pair)
            # material a backward model supplies is a draft or notes, held to the same bar
            strict = needs_input or record["task"] == BACKWARD
            if pair["input"] and similarity(pair["input"], src) > (0.9 if strict else 0.98):
                raise Reject("input is a copy of the output", detail=pair)
            # a wordy draft to condense is longer than what it condenses to (the small model hands
            # over a summary, or a piece of the passage, as the "wordy" version)
            if record["task"] == "condense" and count_length(pair["input"]) < 1.2 * count_length(src):
                raise Reject("the wordy input to condense is not longer than the passage", detail=pair)
            # a draft, notes or plain version is the passage's earlier state, never a verbatim piece
            # of it (a small model hands over the first sentence as the "notes" to expand)
            if needs_input and count_length(pair["input"]) >= 5 and _squeeze(pair["input"]) in _squeeze(src):
                raise Reject("input is an excerpt of the output, not a draft or notes", detail=pair)
            if record["task"] in LENGTH_TASKS:
                sep = "" if lang == "zh" else " "
                pair["instruction"] = pair["instruction"].rstrip() + sep + length_clause(desc, lang)
        pair.update(domain=self.domain(record), form=desc.get("form", ""), grounding=round(share, 2))
        return pair

    def score_prompt(self, pair: dict[str, Any], lang: str) -> list[Message]:
        p = prompts("score", lang)
        # the request and the pasted material apart: shown as one block, a pasted passage made
        # a short request look long and vague to the scorer
        material = render(p["material"], material=pair["input"]) if pair["input"] else ""
        return [{"role": "user", "content": render(p["user"], instruction=pair["instruction"], material=material,
                                                   output=pair["output"])}]

    def admit(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for res in results:
            instr = user_prompt(res["meta"]["instruction"], res["meta"]["input"])
            if self.dups.find(instr) is not None:
                continue
            self.dups.add(instr)
            kept.append(res)
        if not kept:
            raise Reject("near-duplicate instruction", retry=False)
        return kept

    def prime(self, result: dict[str, Any]) -> None:
        meta = result.get("meta") or {}
        self.dups.add(user_prompt(meta.get("instruction", ""), meta.get("input", "")))


def plan_path(out: str | Path) -> Path:
    """Where the per-document descriptions of a run go: OUT.plan.jsonl."""
    return twin_path(out, ".plan.jsonl")


def run_backtranslate(backend: Backend, docs: Iterable[dict[str, Any]] | str | Path, out: str | Path,
                      config: BacktranslateConfig, run_config: Any, writer: Backend | None = None) -> tuple[Any, Any]:
    """Describe every document (OUT.plan.jsonl; unusable ones land in its errors file with the
    reason), then write and check one instruction per (document, chosen task) into OUT.

    With a backward generator, its model (`writer`, else opened from `config.generator` and
    closed at the end) writes the requests; `backend` describes and scores."""
    from bimo.io import iter_jsonl
    from bimo.llm import get_backend
    from bimo.runner import run_step

    plans = plan_path(out)
    own = writer is None and config.backward
    if own:
        writer = get_backend(config.generator)
    try:
        described = run_step(DescribeStep(backend, config), docs, plans, run_config)
        work = expand_plan(iter_jsonl(plans)) if plans.exists() else iter([])
        # `limit` counts documents: every chosen task of a described document is done
        pairs = run_step(BacktranslateStep(backend, config, writer), work, out,
                         run_config.model_copy(update={"limit": None}))
    finally:
        if own and writer is not None:
            writer.close()
    return described, pairs


def backward_messages(response: str) -> list[Message]:
    """The backward model's prompt for a response: its training records (`BackwardStep`) and
    its use as a generator (`BacktranslateStep.write`) both build it here, so they cannot drift."""
    return [{"role": "user", "content": render(prompts("backward", lang_of(response))["user"], response=response)}]


class BackwardStep(GenerationStep):
    """Ziya's backward model data: response → instruction, as SFT (no model call)."""

    name = "backward"

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        from bimo.synth.records import instruction_pair

        prompt_text, response = instruction_pair(record)
        if not prompt_text.strip() or not response.strip():
            raise Reject("record has no instruction/response pair", retry=False)
        meta = {**{k: v for k, v in (record.get("meta") or {}).items()
                   if k in ("task", "domain", "lang", "doc_id")}, "direction": "backward"}
        meta.setdefault("lang", lang_of(response))
        return [sft(backward_messages(response), prompt_text, meta)]
