"""Long-output integrity: is a length reached by new text, or by repeating, leaking, trailing off?

A length score (S_l) only counts. A model rewarded for length learns to pad by pasting its
own paragraphs again (LongWriter-Zero), so every length figure in bimo comes with these
measures, all computed on the same units as `bimo.text.count_length` (each CJK character
and each English word is one unit):

- **repetition**: share of n-grams (n = 8 units) that already occurred earlier in the text,
  the longest repeated span, the share of sentences that repeat an earlier sentence, and
  the repeated share per tenth of the text (a curve: looping usually grows towards the end);
- **near repeats**: the share of sentences that say an earlier sentence again in other words
  (most of their unit bigrams occur in one earlier sentence): a small model's loops often
  vary a word or two, which no 8-gram catches;
- **scaffolding**: lines that talk about the writing instead of writing it ("这一部分写完后：",
  "（前文最后一段略）", "Here is the next section:"), echoes of the instructions;
- **effective length**: units not covered by a repeat of an earlier n-gram — what is left
  of the length once looping is taken out;
- **stalling**: how far into the text the last new n-gram appears (1.0 = new text to the end);
- **language leaks**: Latin-script words inside Chinese prose (CJK inside English) outside
  code, quotes, brackets, names and the terms the prompt itself uses;
- **endings**: a text that ends mid-sentence, on a colon, or on a heading or list marker with
  nothing after it.

`measure` returns an `Integrity` record; `Integrity.flags(thresholds)` names what is over the
documented thresholds (`IntegrityThresholds`), so the writer, the length evaluation and the
data paths all reject the same things for the same reasons. No model is needed.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from bimo.text import detect_lang, sentences

NGRAM = 8
#: The units count_length counts: one CJK ideograph, or one run of ASCII letters.
_UNIT = re.compile(r"[\u4e00-\u9fff]|[a-zA-Z]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Regions where the other script is legitimate: code, links, brackets (glosses such as
# 潮汐锁定（tidal locking）) and titles always; quotation marks only when they hold the other
# script alone — “fake news” is a quoted term, “全民阅读 month” a leak inside quotation marks.
_SHELTERED = re.compile(
    r"```.*?(?:```|\Z)|`[^`\n]*`|https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+"
    r"|《[^》]*》|（[^）]*）|\([^)\n]*\)|【[^】]*】|\[[^\]\n]*\]",
    re.S,
)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"\n]*\"|「[^」]*」|『[^』]*』|‘[^’]*’")
#: Latin words that Chinese prose uses as words of its own (units, common loanwords).
ZH_LATIN_OK = frozenset(
    "app apps wifi vlog ok km kg cm mm ml mg kb mb gb tb kw kwh mah hz ghz vs etc am pm"
    " diy vip ceo ai cpu gpu pdf ppt iphone emoji logo blog".split()
)
# Sentence-final characters (after trailing quotes and brackets are considered).
_FINISHED = set("。！？!?…．.」』”’\"')）]】~～*`|")
_HEADING = re.compile(r"#{1,6}(?:\s.*)?|\*\*[^*]+\*\*[:：]?|__[^_]+__[:：]?")
_LIST_MARKER = re.compile(r"(?:[-*+•·]|\d{1,3}[.)、．]|[一二三四五六七八九十]{1,3}[、.．]|[（(]\d{1,3}[）)])")
_CONTINUING = set("，,、；;—-–(（《“「『‘")


class IntegrityThresholds(BaseModel):
    """Where a long output stops being acceptable. Defaults are set well above what human
    long texts show (see docs/write.md, "Integrity"): human prose repeats 0–2 % of its
    8-grams, loops in model output reach 12–65 %."""

    max_repeated_share: float = Field(0.08, ge=0, le=1, description="share of 8-grams repeating earlier text")
    max_longest_repeat: int = Field(60, ge=8, description="longest repeated span, in units")
    max_repeated_sentences: float = Field(0.10, ge=0, le=1, description="share of sentences repeating one before")
    max_near_repeats: float = Field(0.15, ge=0, le=1, description="share of sentences restating one before")
    max_scaffolding: int = Field(0, ge=0, description="lines about the writing itself allowed")
    min_last_new: float = Field(0.85, ge=0, le=1, description="position of the last new 8-gram (stalling)")
    max_leaks: int = Field(0, ge=0, description="language leaks allowed")
    allow_dangling: bool = Field(False, description="accept texts that end mid-sentence / on a heading or colon")


class Integrity(BaseModel):
    """Integrity measures of one text (see the module docstring for each one)."""

    units: int = 0
    effective_length: int = 0
    repeated_share: float = 0.0
    longest_repeat: int = 0
    repeated_sentences: float = 0.0
    near_repeats: float = 0.0
    scaffolding: list[str] = Field(default_factory=list)
    curve: list[float] = Field(default_factory=list, description="repeated 8-gram share per tenth")
    last_new: float = 1.0
    leaks: list[str] = Field(default_factory=list)
    ending: str | None = None

    def flags(self, thresholds: IntegrityThresholds | None = None) -> list[str]:
        """Reasons this text is over the thresholds, one short phrase each; [] when clean."""
        t = thresholds or IntegrityThresholds()
        out: list[str] = []
        if self.repeated_share > t.max_repeated_share:
            out.append(f"repeats {self.repeated_share:.0%} of its 8-grams (> {t.max_repeated_share:.0%})")
        if self.longest_repeat > t.max_longest_repeat:
            out.append(f"repeats a {self.longest_repeat}-unit span (> {t.max_longest_repeat})")
        if self.repeated_sentences > t.max_repeated_sentences:
            out.append(f"{self.repeated_sentences:.0%} of sentences repeat an earlier one")
        if self.near_repeats > t.max_near_repeats:
            out.append(f"{self.near_repeats:.0%} of sentences restate an earlier one")
        if len(self.scaffolding) > t.max_scaffolding:
            out.append(f"{len(self.scaffolding)} line(s) about the writing: {self.scaffolding[0][:30]}")
        if self.units >= 4 * NGRAM and self.last_new < t.min_last_new:
            out.append(f"stalls: no new 8-gram after {self.last_new:.0%} of the text")
        if len(self.leaks) > t.max_leaks:
            out.append(f"{len(self.leaks)} language leak(s): {', '.join(self.leaks[:3])}")
        if self.ending and not t.allow_dangling:
            out.append(f"ends {self.ending}")
        return out

    def summary(self) -> dict[str, float | int | str | None]:
        """The scalar measures, rounded, for tables and JSON records."""
        return {"effective_length": self.effective_length, "repeated_share": round(self.repeated_share, 4),
                "longest_repeat": self.longest_repeat, "repeated_sentences": round(self.repeated_sentences, 4),
                "near_repeats": round(self.near_repeats, 4), "scaffolding": len(self.scaffolding),
                "last_new": round(self.last_new, 3), "leaks": len(self.leaks), "ending": self.ending}


def units(text: str) -> list[str]:
    """The text as length units (CJK characters, lower-cased English words), in order."""
    return [m.group().lower() for m in _UNIT.finditer(text)]


def repeated_flags(toks: list[str], n: int = NGRAM, seen: set[tuple[str, ...]] | None = None) -> list[bool]:
    """For each n-gram start, whether that n-gram occurred before (in `seen` or earlier here).
    `seen` is updated in place, so consecutive pieces can be checked against each other."""
    seen = set() if seen is None else seen
    out = []
    for i in range(len(toks) - n + 1):
        g = tuple(toks[i:i + n])
        out.append(g in seen)
        seen.add(g)
    return out


def ngram_set(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    toks = units(text)
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def _sentence_key(text: str) -> str:
    return "".join(units(text))


def measure(text: str, prompt: str = "", lang: str | None = None, n: int = NGRAM) -> Integrity:
    """All integrity measures of `text`; `prompt` supplies the terms that are not leaks."""
    toks = units(text)
    rep = repeated_flags(toks, n)
    covered = [False] * len(toks)
    longest = run = 0
    for i, r in enumerate(rep):
        if r:
            covered[i:i + n] = [True] * n
            run += 1
            longest = max(longest, run + n - 1)
        else:
            run = 0
    grams = len(rep)
    curve: list[float] = []
    if grams:
        for k in range(10):
            lo, hi = k * grams // 10, (k + 1) * grams // 10
            curve.append(sum(rep[lo:hi]) / (hi - lo) if hi > lo else 0.0)
    new_at = [i for i, r in enumerate(rep) if not r]
    last_new = (new_at[-1] + n) / len(toks) if new_at else (1.0 if not grams else 0.0)
    return Integrity(
        units=len(toks),
        effective_length=len(toks) - sum(covered),
        repeated_share=sum(rep) / grams if grams else 0.0,
        longest_repeat=longest,
        repeated_sentences=repeated_sentence_share(text),
        near_repeats=near_repeat_share(text),
        scaffolding=scaffolding_lines(text),
        curve=curve,
        last_new=min(1.0, last_new),
        leaks=language_leaks(text, prompt, lang),
        ending=dangling_ending(text),
    )


def repeated_sentence_share(text: str, min_units: int = 5) -> float:
    """Share of sentences (of at least `min_units` units) identical to an earlier one."""
    seen: set[str] = set()
    total = repeated = 0
    for piece in sentences(text):
        key = _sentence_key(piece)
        if len(units(piece)) < min_units:
            continue
        total += 1
        repeated += key in seen
        seen.add(key)
    return repeated / total if total else 0.0


def _bigrams(piece: str) -> set[tuple[str, str]]:
    toks = units(piece)
    return set(zip(toks, toks[1:], strict=False))


class _Restatements:
    """Earlier sentences by their unit bigrams, to ask whether a new sentence restates one:
    at least `containment` of its bigrams lie in one earlier sentence (the same sentence with
    a word or two changed, or an exact repeat). An index, so long texts stay fast. `base`: the
    index of the text before, read but never added to (`fork`)."""

    def __init__(self, min_units: int = 8, containment: float = 0.6, base: _Restatements | None = None):
        self.min_units, self.containment, self.base = min_units, containment, base
        self.index: dict[tuple[str, str], list[int]] = {}
        self.count = base.count if base is not None else 0

    def long_enough(self, grams: set[tuple[str, str]]) -> bool:
        return len(grams) >= self.min_units - 1

    def _ids(self, g: tuple[str, str]) -> list[int]:
        own = self.index.get(g, [])
        return own + self.base._ids(g) if self.base is not None else own

    def restates(self, grams: set[tuple[str, str]]) -> bool:
        shared: dict[int, int] = {}
        for g in grams:
            for other in self._ids(g):
                shared[other] = shared.get(other, 0) + 1
        return bool(shared) and max(shared.values()) >= self.containment * len(grams)

    def add(self, grams: set[tuple[str, str]]) -> None:
        for g in grams:
            self.index.setdefault(g, []).append(self.count)
        self.count += 1

    def fork(self) -> _Restatements:
        """An index to add to on top of this one, which stays as it is (nothing is copied)."""
        return _Restatements(self.min_units, self.containment, base=self)


def near_repeat_share(text: str, min_units: int = 8, containment: float = 0.6) -> float:
    """Share of sentences (of at least `min_units` units) whose unit bigrams lie, for at least
    `containment` of them, in one earlier sentence: the same sentence with a word or two
    changed, or an exact repeat.

    Looser than the 4-gram rule of `drop_repeats` (more than 60 % of a sentence's 4-grams seen
    anywhere before): that rule misses a claim restated with a few words moved ("当太阳和月亮在
    同一天升起时…" / "…在同一个时刻升起时…"), which this one reports. The writer drops such
    sentences too (`drop_repeats(..., restated=True)`)."""
    seen = _Restatements(min_units, containment)
    total = near = 0
    for piece in sentences(text):
        grams = _bigrams(piece)
        if not seen.long_enough(grams):
            continue
        total += 1
        near += seen.restates(grams)
        seen.add(grams)
    return near / total if total else 0.0


#: Lines that speak about the text being written rather than writing it: echoes of the
#: writer's instructions and a small model's notes to itself. Kept narrow on purpose:
#: "以下是活动安排：" in a plan is writing, "以下是我根据题目创作的" is not.
_SCAFFOLD = re.compile(
    r"^\s*(?:"
    r"这一?部分写完|这一?部分(?:大?约|共|字数)|本(?:段|节|部分)(?:大?约|共)\s*\d+\s*字"
    r"|这一?部分还(?:不够长|差约?\s*\d)|[（(]\s*尚?未开始\s*[）)]\s*$"
    r"|[（(【\[]?\s*(?:前文|上文|前面|以上|此处)[^）)】\]\n]{0,12}(?:略|省略)[^）)】\]\n]{0,4}[）)】\]]?\s*$"
    r"|以下是我(?:根据|为你|为您|创作|写)|(?:字数|篇幅)\s*[:：]\s*\d+"
    r"|(?:现在)?请(?:你)?(?:继续|总结|概括|续写)[^。！？\n]{0,40}[:：]\s*$"
    r"|(?:here is|here's|below is) (?:the|a|an|my) (?:next |final |first )?(?:section|part|paragraph|continuation|essay|story|article)"
    r"|\(?(?:continued|to be continued|word count:?\s*\d+|nothing yet)\)?\s*$"
    r"|this section (?:is not long enough|still needs about)|continue it directly from where it stops"
    r")"
    # a title that names the plan, not the piece: "# 写作计划", "# Writing plan"
    r"|^\s*#{1,6}\s*(?:写作(?:计划|提纲)|writing plan)\s*$"
    # a heading marked as continued: "## 1.1 目标（续）", "Impact on Urban Design (continued)"
    r"|^\s*(?:#{1,6}\s*)?[^\n]{1,40}[（(]\s*(?:续|continued|cont\.?)\s*[）)]\s*$"
    # a preamble about the writing, wherever it starts in the line
    r"|以下是我(?:根据|为你|为您)[^\n]{0,16}(?:创作|写)的|(?:可以|可)这样续写"
    # the assistant speaking as itself
    r"|作为一?[个名]?(?:AI|人工智能)(?:语言)?(?:模型|助手)|\bas an AI(?: language)? (?:model|assistant)\b",
    re.I,
)


def is_scaffolding(line: str) -> bool:
    """Whether a line talks about the writing itself (see `_SCAFFOLD`)."""
    return bool(_SCAFFOLD.search(line))


def scaffolding_lines(text: str) -> list[str]:
    """Lines about the writing itself, stripped, in order."""
    return [ln.strip() for ln in text.splitlines() if is_scaffolding(ln)]


def language_leaks(text: str, prompt: str = "", lang: str | None = None) -> list[str]:
    """Words of the other script inside prose: Latin in Chinese, CJK in English.

    Not leaks: code, brackets (glosses such as 潮汐锁定（tidal locking）), titles, quotes
    that hold only the other script (“fake news”, not “全民阅读 month”),
    links, names (Latin words with a capital or a digit: iPhone, NASA, Python3), common
    loanwords and units (`ZH_LATIN_OK`), and every term the prompt itself contains.
    """
    lang = lang or detect_lang(text)
    blank = lambda m: " " * len(m.group())  # noqa: E731 - offsets stay put
    own = _CJK_RUN if lang == "zh" else _LATIN_WORD  # the prose's own script
    open_text = _SHELTERED.sub(blank, text)
    open_text = _QUOTED.sub(lambda m: m.group() if own.search(m.group()[1:-1]) else blank(m), open_text)
    prompt_l = prompt.lower()
    leaks: list[str] = []
    if lang == "zh":
        for m in _LATIN_WORD.finditer(open_text):
            w = m.group().strip("'-")
            lw = w.lower()
            if len(w) < 2 or w != lw or lw in ZH_LATIN_OK or lw in prompt_l:
                continue
            leaks.append(w)
    elif lang == "en":
        leaks = [m.group() for m in _CJK_RUN.finditer(open_text) if m.group() not in prompt]
    return leaks


def dangling_ending(text: str) -> str | None:
    """How the text ends badly — 'mid-sentence', 'on a colon', 'on a heading', 'on a list
    marker' — or None when it ends on a finished sentence (or a list item, table or code)."""
    s = text.rstrip()
    if not s:
        return "empty"
    if s.endswith("```"):
        return None
    last = s.splitlines()[-1].strip()
    if _HEADING.fullmatch(last):
        return "on a heading"
    if _LIST_MARKER.fullmatch(last):
        return "on a list marker"
    if last[-1] in ":：":
        return "on a colon"
    if last[-1] in _CONTINUING:
        return "mid-sentence"
    if last[-1] in _FINISHED:
        return None
    if _LIST_MARKER.match(last) or last.startswith("|"):
        return None  # a list item or table row with content: lists need no full stop
    if not re.search(r"[\w\u4e00-\u9fff]", last[-1]):
        return None  # emoji, symbols: the writer's choice, not a cut
    return "mid-sentence"


# --- for the writer: check a new piece against the text before it -------------------------


class RepeatMemory:
    """What `before` has said, as `drop_repeats` looks it up: its n-grams, 4-grams, sentences
    and sentence bigrams. Built once for a text that many pieces are checked against (a
    streamed piece is checked at every sentence end against the whole text so far).

    `requests`: what the writer asked for (the task, the plan and its points). A sentence
    that copies it is an echo and goes (n-grams, 4-grams, the same sentence), but one that
    says the same thing in its own words is what a section is asked to write: requests are
    not among the earlier sentences of the restatement rule. ("潮汐锁定是太阳系中一种常见的
    现象。" restated the plan point "潮汐锁定是太阳系中所有行星中唯一的……现象。" for the bigram
    rule, and a science piece lost its opening sentences.)"""

    def __init__(self, before: str = "", n: int = NGRAM, restated: bool = True, requests: str = ""):
        self.n, self.restated = n, restated
        self.near = ngram_set(before, 4) | ngram_set(requests, 4)
        self.seen = ngram_set(before, n) | ngram_set(requests, n)
        self.seen_sent = {_sentence_key(p) for p in sentences(before) + sentences(requests) if len(units(p)) >= 5}
        self.said = _Restatements()  # for `restated`: the sentences so far by their bigrams
        if restated:
            for p in sentences(before):
                if self.said.long_enough(grams := _bigrams(p)):
                    self.said.add(grams)

    def fork(self) -> RepeatMemory:
        """A copy that a piece's own sentences can be added to, leaving this one as it is."""
        out = RepeatMemory.__new__(RepeatMemory)
        out.n, out.restated = self.n, self.restated
        out.near, out.seen, out.seen_sent = set(self.near), set(self.seen), set(self.seen_sent)
        out.said = self.said.fork()
        return out


def drop_repeats(piece: str, before: str = "", n: int = NGRAM, max_share: float = 0.5,
                 near_share: float = 0.6, restated: bool = True, memory: RepeatMemory | None = None) -> str:
    """The piece without its sentences that repeat earlier text.

    A sentence goes when more than `max_share` of its n-grams (those starting inside it)
    already occurred — in `before` or in what was kept of the piece — or when it is a
    sentence (≥ 5 units) identical to an earlier one, or a sentence of ≥ 8 units with more
    than `near_share` of its 4-grams seen (the same sentence with a word changed, a loop
    small models fall into), or — with `restated` — a sentence of ≥ 8 units with at least
    60 % of its unit bigrams in one earlier sentence (a restatement with a word or two changed,
    what `near_repeat_share` reports: "trying to forget / forgot / forgotten everything about
    that time"). Pasted paragraphs and repeated tails go; a phrase shared in passing stays.
    (On human text the 4-gram rule hits 0–8 % of sentences: 0 in 宋词一百首, 0.1 % in
    唐诗三百首, 1.1 % in the GPL-3, 8 % in the vim tutor, which repeats its instructions; the
    bigram rule 0.4 % of Brown and 1.1 % of 古文观止 on average: docs/write.md.)
    `memory`: `RepeatMemory(before, n, restated)` built beforehand, used instead of `before`.
    """
    memory = (memory or RepeatMemory(before, n, restated)).fork()
    # a memory built without the restatement index cannot serve the restatement rule
    assert memory.n == n and (memory.restated or not restated), "the RepeatMemory was built for other settings"
    near, seen, seen_sent, said = memory.near, memory.seen, memory.seen_sent, memory.said
    kept: list[str] = []
    recent: list[str] = []  # the last short-or-long pieces kept, for loops of short lines
    tail: list[str] = []  # the last n-1 units kept, so n-grams crossing sentences are checked
    for piece_s in sentences(piece):
        toks = units(piece_s)
        key = "".join(toks)
        if not toks:
            kept.append(piece_s)
            continue
        window = tail + toks  # every n-gram of the window ends inside this sentence
        rep = [tuple(window[i:i + n]) in seen for i in range(len(window) - n + 1)]
        share = sum(rep) / len(rep) if rep else 0.0
        fours = [tuple(toks[i:i + 4]) for i in range(len(toks) - 3)]
        near_dup = len(toks) >= 8 and sum(g in near for g in fours) > near_share * len(fours)
        near.update(fours)
        grams = _bigrams(piece_s)
        says_again = restated and said.long_enough(grams) and said.restates(grams)
        if (len(toks) >= 5 and key in seen_sent) or (rep and share > max_share) or near_dup or says_again:
            continue
        if restated and said.long_enough(grams):
            said.add(grams)
        if len(toks) < 5 and key in recent:  # a short line (a label, a heading) looping
            continue
        recent = [*recent[-3:], key]
        kept.append(piece_s)
        repeated_flags(window, n, seen)
        if len(toks) >= 5:
            seen_sent.add(key)
        tail = window[-(n - 1):]
    out = "".join(kept)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def trim_dangling(text: str) -> str:
    """Cut back to the last finished sentence: never end on a heading, colon or list lead-in."""
    s = text.rstrip()
    for _ in range(50):
        if not dangling_ending(s):
            return s
        pieces = sentences(s)
        if len(pieces) <= 1:
            return s
        s = "".join(pieces[:-1]).rstrip()
    return s
