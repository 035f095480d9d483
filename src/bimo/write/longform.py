"""Long-form writing that lands on the asked length: plan, write, control, resume.

Plain models stop near 2,000 words whatever is asked (LongWriter). AgentWrite plans one
line per paragraph and writes the paragraphs in turn, but never checks a length. Here:

1. **Plan** as JSON (title; sections with heading, key points and a target length);
   the targets are rescaled to sum to the requirement.
2. **Write** each section with the instruction, the plan, the points already covered
   and the last paragraph verbatim (not the whole text: a small model shown its own
   text copies from it). The prompt is laid out instruction → plan → so far → current
   step, so each step shares its prefix with the last and llama.cpp reuses the KV state.
   Each new piece is checked against the text so far (`bimo.integrity`): repeated
   sentences are dropped; a piece that mostly repeats is asked again with a new seed and
   anti-repetition sampling (DRY where the backend has it, presence/frequency penalties),
   then as a new sub-point; language leaks are repaired and every section ends on a
   finished sentence. When length and integrity cannot both be met the writer stops short
   and says so ("stopped at N of M 字 to avoid repetition") instead of padding.
3. **Control length** per section: `max_tokens` comes from a units-per-token ratio
   measured on the fly; a section that ends short is continued, one that runs long is
   cut at a sentence boundary, and the running total rescales the remaining budgets.
4. **Checkpoint** every finished section (atomic write) in a run folder (`RunState`,
   its `state.json`); resuming skips finished sections, so nothing is lost or written twice.
   Each kind of call has its own seed (`SeedSchedule`), so a seeded run is reproducible.

Parallel mode writes sections concurrently from the plan alone, then writes a short
transition at each join — faster on backends with several slots, at some cost to flow.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bimo.binding import differences, make_binding
from bimo.errors import BackendError, BimoError
from bimo.integrity import (
    dangling_ending,
    drop_repeats,
    is_scaffolding,
    language_leaks,
    ngram_set,
    trim_dangling,
)
from bimo.io import atomic_write_text
from bimo.llm.base import Backend, Completion, GenParams
from bimo.templates import load_package_yaml, render
from bimo.text import count_length, detect_lang, sentences
from bimo.write.lengthreq import check_length
from bimo.write.plan import (
    Plan,
    Section,
    check_plan,
    dedupe_sections,
    heading_name,
    other_headings,
    plan_schema,
    plan_text,
    rescale,
    salvage_plan,
    split_oversized,
    untitled_if_not_a_title,
    without_contents,
    without_continued,
)
from bimo.write.runstate import LongformConfig, RunState, SectionText, SeedSchedule, TokenUse, load_state
from bimo.write.watch import MAY_END, PieceWatch

Event = Callable[[dict[str, Any]], None]

# Starting guesses of length units (CJK chars / English words) per token; refined on the fly.
INITIAL_RATIO = {"zh": 1.2, "en": 0.7}
SINGLE_SECTION_MAX = 800  # below this, no plan: one section written with length control
#: a section sharing more of its 4-grams than this with one earlier section restates it
RESTATE_MAX = 0.5


@dataclass
class LongformResult:
    text: str
    length: int
    plan: Plan
    run_dir: Path | None
    tokens: int = 0
    calls: int = 0
    seconds: float = 0.0
    sections: list[str] = field(default_factory=list)


def _prompts(lang: str) -> dict[str, str]:
    return load_package_yaml("bimo.write.prompts", "longform.yaml")[lang]


def cut_to_length(text: str, target: int) -> str:
    """Cut at the sentence boundary whose length is closest to target (never mid-sentence)."""
    best, best_err, acc = text, abs(count_length(text) - target), ""
    for piece in sentences(text):
        acc += piece
        err = abs(count_length(acc) - target)
        if err < best_err:
            best, best_err = acc, err
    return best.rstrip()


_BARE_MARKER = re.compile(r"\s*(?:[-*+•]|\d{1,3}\s*[.)、．。]|[一二三四五六七八九十]{1,3}[、.．])\s*")


def _without_bare_markers(text: str) -> str:
    """`text` without list markers alone on a line ("3."), blank runs closed up."""
    lines = [ln for ln in text.splitlines() if not _BARE_MARKER.fullmatch(ln)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_THEMATIC_BREAK = re.compile(r"\s*(?:[-*_]\s*){3,}")


#: the words of the new-sub-point request ("新的细节、新的例子或新的事件") as a heading: a held-out
#: report had "### 新的细节：" — the request showing through, not a part of the text
_ASKED_FOR = re.compile(r"(?:一个)?新的?(?:细节|例子|事件|方面)[：:]?|(?:a\s+)?new\s+(?:detail|example|event|aspect)s?:?", re.I)


def _heading_level(line: str) -> int:
    """How many "#" open a Markdown heading line (0: not a heading; "#话题#" is not one)."""
    m = re.match(r"\s*(#{1,6})(?:\s|$)", line)
    return len(m.group(1)) if m else 0


def writes_elsewhere(text: str, others: list[str]) -> int | None:
    """Where `text` starts writing another section: the offset of its first heading line
    (`_heading_level`) naming one of the `others` sections' headings, else None. What follows it
    belongs to that section, written in its own turn: before (a held-out report's last
    section began again with "### 引言") or after."""
    names = {heading_name(h) for h in others if heading_name(h)}
    if not names:
        return None
    at = 0
    for line in text.splitlines(keepends=True):
        if _heading_level(line) and heading_name(line) in names:
            return at
        at += len(line)
    return None


def _clean_section(text: str, heading: str, others: tuple[str, ...] = ()) -> str:
    """Cut where the model starts writing another section (`writes_elsewhere`); drop the heading
    it may have echoed (at the start or again further on), what leads into the text (stray
    "#"/"##" headers, a "---" rule; a "###" sub-heading stays), list markers with nothing after
    them ("3." alone on a line, a small-model loop) and lines about the writing itself
    ("这一部分写完后：", "（前文最后一段略）": `integrity.is_scaffolding`)."""
    cut = writes_elsewhere(text, list(others))
    text = text[:cut] if cut is not None else text
    base = without_continued(heading)  # a split section's later part echoes the first part's heading
    own = {heading_name(h) for h in (heading, base) if h} - {""}
    lines = [ln for ln in text.strip().splitlines() if not (
        _BARE_MARKER.fullmatch(ln) or is_scaffolding(ln)
        or (_heading_level(ln) and (heading_name(ln) in own or _ASKED_FOR.fullmatch(heading_name(ln)))))]
    # what leads in: a title- or section-level header ("#", "##": it competes with the section's
    # own heading; a "###" sub-heading is content, "### Facebook" before its list), a header
    # with no name ("### 第二部分"), a rule, a blank line, the heading as a bare line
    while lines and (0 < _heading_level(lines[0]) <= 2 or (_heading_level(lines[0]) and not heading_name(lines[0]))
                     or _THEMATIC_BREAK.fullmatch(lines[0]) or not lines[0].strip()
                     or (heading and lines[0].strip().strip("「」\"*") in {heading, base})):
        lines.pop(0)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _shown(raw: str, kept: str, clean: Callable[[str], str]) -> str:
    """What a piece's turn shows the model when it is continued: the text as decoded, up to
    where `kept` ends, when all it adds to `kept` comes before it (an echoed heading, a first
    sentence that restated the request), so the backend's cached tokens still match;
    otherwise `kept` (repeats dropped inside the piece: showing them would invite more)."""
    tail = kept[-24:]
    at = raw.rfind(tail)
    if at < 0:
        return kept
    shown = raw[:at + len(tail)]
    return shown if clean(shown).endswith(kept) else kept


def _join(a: str, b: str) -> str:
    """`b` after `a`: in a new paragraph when `a` ends a sentence or a line, or either side is a
    heading there; else in the same one (a piece cut mid-sentence goes on). A heading that ends
    `a` with nothing under it, before a heading of its level or above, is dropped (its text was
    dropped as a repeat: "#### 1.2 抖音平台" then "#### 1.3 网页广告")."""
    line_end = a.endswith("\n")
    a, b = a.rstrip(), b.lstrip()
    if not a or not b:
        return a or b
    last, first = a.rsplit("\n", 1)[-1], b.split("\n", 1)[0]
    if _heading_level(last) and 0 < _heading_level(first) <= _heading_level(last):
        a = a[: -len(last)].rstrip()
        if not a:
            return b
        last = a.rsplit("\n", 1)[-1]
    para = line_end or a[-1] in "。！？.!?”」』…" or _heading_level(last) or _heading_level(first)
    return a + ("\n\n" if para else "") + b


def restatement(text: str, earlier: list[str], n: int = 4) -> float:
    """Largest share of `text`'s unit 4-grams found in one earlier section: a section that
    retells an earlier one in other sentences still reuses its 4-grams (8-gram repeats
    catch only verbatim copies)."""
    mine = ngram_set(text, n)
    if not mine:
        return 0.0
    return max((len(mine & ngram_set(e, n)) / len(mine) for e in earlier if e), default=0.0)


def _spend(use: TokenUse, kind: str, tokens: int, units: int, kept_units: int) -> None:
    """Count a piece's `tokens` under its kind of call, and as kept or thrown away in
    proportion to the length units kept (an answer with no units at all is `empty`)."""
    setattr(use, kind, getattr(use, kind) + tokens)
    if units <= 0:
        use.empty += tokens
        return
    kept = round(tokens * min(1.0, kept_units / units))
    use.kept += kept
    use.repeat += tokens - kept


def _shrink(use: TokenUse, reason: str, text: str, shorter: str) -> str:
    """`shorter` (text cut or trimmed), the kept tokens of what went counted under `reason`."""
    units, left = count_length(text), count_length(shorter)
    if units > left:
        use.move(reason, round(use.kept * (units - left) / units))
    return shorter


def without_restating(text: str, earlier: list[str]) -> str:
    """`text` without its paragraphs that restate one earlier section (`restatement` over
    `RESTATE_MAX`): what a section that retells an earlier one keeps when it is written again."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(p for p in paras if restatement(p, earlier) <= RESTATE_MAX).strip()


@dataclass
class _Run:
    """One run of the writer: what every step needs, passed as one object."""

    instruction: str
    lang: str
    plan: Plan
    state: RunState
    run_dir: Path | None
    emit: Event
    bar: _Progress


class LongformWriter:
    """Plan-then-write with length control, checkpoints and optional parallel sections.

    The counters (`tokens`, `calls`, `ratio`, `repeats`, `stops`) are updated from the worker
    threads of parallel mode, always under one lock, and saved with every checkpoint.
    """

    def __init__(self, backend: Backend, config: LongformConfig):
        check_length(config.length)
        self.backend = backend
        self.config = config
        self.seeds = SeedSchedule(config.seed)
        self.tokens = 0
        self.use = TokenUse()  # where the tokens went (adds up to `tokens`)
        self.calls = 0
        self.ratio: float | None = None
        self.repeats = 0  # pieces that were mostly repetition (asked again)
        self.stops: list[dict[str, Any]] = []  # sections that stopped short to avoid repetition
        self._lock = threading.Lock()

    @classmethod
    def for_prompt(cls, backend: Backend, prompt: str, length: int | None = None, *, default: int | None = None,
                   **settings: Any) -> LongformWriter:
        """The writer for one prompt: at `length` when given, else the length the prompt
        states, else `default`; `settings` are other `LongformConfig` fields."""
        return cls(backend, LongformConfig.for_prompt(prompt, length, default=default, **settings))

    # --- model calls -----------------------------------------------------------
    def _params(self, max_tokens: int, seed: int | None, anti: bool = False, piece: bool = False) -> GenParams:
        """Sampling settings. With `LongformConfig.dry` a section `piece` gets the DRY sampler
        from its first try on backends that have it (fewer verbatim repeats, more restatements:
        docs/write.md); `anti` adds what a re-ask after a repeated piece uses: presence and
        frequency penalties, a higher temperature and DRY."""
        wanted = anti or (piece and self.config.dry)
        dry = {"dry_multiplier": 0.8} if wanted and getattr(self.backend, "supports_dry", False) else {}
        params = GenParams(temperature=self.config.temperature, top_p=self.config.top_p, seed=seed,
                           max_tokens=max(16, max_tokens), repeat_penalty=1.1, **dry)
        if anti:
            params = params.model_copy(update={
                "temperature": max(0.8, self.config.temperature), "presence_penalty": 0.4, "frequency_penalty": 0.4})
        return params

    def _chat(self, messages: list[dict], max_tokens: int, seed: int | None, schema: dict | None = None,
              anti: bool = False, purpose: str | None = None, piece: bool = False):
        """One model call, counted; `purpose` names where its tokens go in `self.use` (a
        section piece is accounted by `_write_section` instead, once its fate is known)."""
        params = self._params(max_tokens, seed, anti, piece)
        if schema is not None:
            params = params.model_copy(update={"json_schema": schema})
        comp = self.backend.chat(messages, params)
        self._count(comp, purpose)
        return comp

    def _count(self, comp: Completion, purpose: str | None) -> None:
        with self._lock:
            self.calls += 1
            self.tokens += comp.completion_tokens
            if purpose:
                setattr(self.use, purpose, getattr(self.use, purpose) + comp.completion_tokens)

    def _piece(self, messages: list[dict], max_tokens: int, seed: int | None, anti: bool,
               watch: PieceWatch) -> tuple[Completion, str]:
        """A section piece, streamed and stopped as soon as `watch` sees it loop or reach the
        length needed (the stream is closed, which frees the backend's slot); returns the
        completion (its tokens: all that were decoded) and the text up to the stop."""
        if not self.backend.can_stream:
            comp = self._chat(messages, max_tokens, seed, anti=anti, piece=True)
            return comp, comp.text
        stream = self.backend.stream(messages, self._params(max_tokens, seed, anti, piece=True))
        text = ""
        with stream:
            for delta in stream:
                if watch.reason:
                    continue  # closed: what was already decoded drains
                text += delta
                if watch.check(text) if MAY_END.search(delta) else watch.check_tail(text):
                    stream.close()
        comp = stream.completion
        assert comp is not None
        self._count(comp, None)
        return comp, text[:watch.at] if watch.reason else text

    def _thrown(self, reason: str, units: int) -> None:
        """Kept text of finished sections thrown away after all (`units` of it): its tokens,
        at the measured units-per-token ratio, are counted under `reason`."""
        if units > 0:
            with self._lock:
                self.use.move(reason, round(units / (self.ratio or 1.0)))

    def _units_per_token(self, lang: str) -> float:
        return self.ratio or INITIAL_RATIO[lang]

    def _section_tokens(self, units: int, lang: str) -> int:
        """`max_tokens` for a piece of `units` length units, with room to end its sentence."""
        return math.ceil(units / self._units_per_token(lang) * 1.3) + 32

    def _learn_ratio(self, units: int, tokens: int) -> None:
        if tokens < 20 or units <= 0:
            return
        r = units / tokens
        with self._lock:
            self.ratio = r if self.ratio is None else 0.5 * self.ratio + 0.5 * r

    # --- planning -----------------------------------------------------------------
    def make_plan(self, instruction: str, lang: str) -> Plan:
        L = self.config.length
        if L <= SINGLE_SECTION_MAX:
            return Plan(title="", sections=[Section(heading="", points=[], length=L)])
        n = max(2, min(40, round(L / self.config.section_size)))
        p = _prompts(lang)
        messages = [{"role": "system", "content": p["system"]},
                    {"role": "user", "content": render(p["plan"], instruction=instruction, length=L, n_sections=n)}]
        plan = None
        for attempt in range(2):
            try:
                comp = self._chat(messages, max_tokens=120 + 90 * n, seed=self.seeds.plan(attempt),
                                  schema=plan_schema(max(2, n // 2)),
                                  purpose="plan")
            except BackendError:
                continue
            # a plan cut off at its budget keeps its finished sections (lengths are rescaled
            # and big sections split below): asking again would decode the whole plan twice.
            # Fewer than half the sections asked for, cut off or not, is asked once more.
            got = salvage_plan(comp.text)
            got = without_contents(got) if got is not None else None
            if got is not None and (plan is None or len(got.sections) > len(plan.sections)):
                plan = got
            if plan is not None and len(plan.sections) >= max(2, n // 2):
                break
        if plan is None or not plan.sections:
            head = "第{}部分" if lang == "zh" else "Part {}"
            plan = Plan(title="", sections=[Section(heading=head.format(i + 1)) for i in range(n)])
        plan.sections = dedupe_sections(plan.sections)
        return split_oversized(rescale(untitled_if_not_a_title(plan), L), self.config.section_size, lang)

    # --- state ------------------------------------------------------------------------
    def binding(self, instruction: str) -> dict[str, Any]:
        """What this run's text depends on: the model, the instruction and every setting."""
        return make_binding(self.backend.uri, instruction=instruction, **self.config.model_dump())

    def check_binding(self, run_dir: Path, state: RunState) -> None:
        """Refuse to continue a run folder made with another model or other settings."""
        recorded = state.binding
        if recorded is None:  # a folder from before bindings were recorded: adopt it
            state.model, state.binding = self.backend.uri, self.binding(state.instruction)
            self._save(run_dir, state)
            return
        diff = differences(recorded, self.binding(recorded.get("instruction", state.instruction)))
        if diff:
            raise BimoError(f"{run_dir} was started with other settings ({'; '.join(diff)}); "
                            "continuing would mix them in one text: start a new run")

    def _open(self, instruction: str, run_dir: Path | None) -> RunState:
        """The run's state: resumed from `run_dir` (counters included), else a new one."""
        if run_dir is None or not (run_dir / "state.json").exists():
            if run_dir is not None:
                run_dir.mkdir(parents=True, exist_ok=True)
            return RunState(instruction=instruction, config=self.config, model=self.backend.uri,
                            binding=self.binding(instruction))
        state = load_state(run_dir)
        with self._lock:
            self.tokens, self.calls, self.ratio = state.tokens, state.calls, state.ratio
            self.use = state.use.model_copy()
            self.repeats, self.stops = state.repeats, list(state.stops)
        self.check_binding(run_dir, state)
        return state

    def _save(self, run_dir: Path | None, state: RunState) -> None:
        if run_dir is None:
            return
        with self._lock:
            state.tokens, state.calls, state.ratio = self.tokens, self.calls, self.ratio
            state.use = self.use.model_copy()
            # tokens of sections still being written (parallel mode) are in `tokens` but not
            # yet in `use`: a run that stops here has thrown them away
            state.use.interrupted += max(0, self.tokens - state.use.total())
            state.repeats, state.stops = self.repeats, list(self.stops)
        data = state.model_dump(mode="json", exclude={"stopped"} if state.stopped is None else None)
        atomic_write_text(run_dir / "state.json", json.dumps(data, ensure_ascii=False, indent=1))

    # --- writing -------------------------------------------------------------------------
    def _summaries(self, run: _Run, done: list[str], upto: int) -> list[str]:
        """One short summary per finished section, made once and kept in the run state."""
        p = _prompts(run.lang)
        summaries = run.state.summaries
        for i in range(upto):
            if i not in summaries:
                msg = [{"role": "user", "content": render(p["summary"], text=done[i])}]
                summaries[i] = self._chat(msg, max_tokens=220, seed=self.seeds.summary(i), purpose="summary").text.strip()
        return [summaries[i] for i in range(upto)]

    def _sofar(self, run: _Run, upto: int, budget_tokens: int) -> str:
        """What section `upto` sees of the text before it (`LongformConfig.context`)."""
        lang = run.lang
        p = _prompts(lang)
        done = run.state.texts(upto)
        if not done:
            return p["sofar_empty"]
        if self.config.context != "full":
            sep = "；" if lang == "zh" else "; "
            covered = "\n".join(f"{i + 1}. {s.heading}" + (f": {sep.join(s.points)}" if s.points else "")
                                 for i, s in enumerate(run.plan.sections[:upto]))
            parts = [f"{p['covered_head']}\n{covered}"]
            if self.config.context == "summary":
                parts.append(f"{p['summary_head']}\n" + "\n".join(
                    f"{i + 1}. {t}" for i, t in enumerate(self._summaries(run, done, upto))))
            paras = [x for x in done[-1].split("\n\n") if x.strip()]
            last = paras[-1] if paras else done[-1]
            if count_length(last) > 300:
                last = "".join(sentences(last)[-4:])
            parts.append(f"{p['last_head']}\n{last.strip()}")
            return "\n\n".join(parts)
        full = "\n\n".join(done)
        r = self._units_per_token(lang)
        if count_length(full) / r <= budget_tokens:
            return full
        summaries = self._summaries(run, done, upto - 1)
        tail = done[-1]
        if count_length(tail) / r > budget_tokens * 0.6:
            tail = tail[-int(budget_tokens * 0.6 * r):]
        head = "\n".join(f"{i + 1}. {t}" for i, t in enumerate(summaries))
        return f"{p['summary_head']}\n{head}\n\n{p['tail_head']}\n{tail}"

    def _section_messages(self, run: _Run, idx: int, target: int, sofar: str) -> list[dict]:
        instruction, plan, lang = run.instruction, run.plan, run.lang
        p = _prompts(lang)
        s = plan.sections[idx]
        if len(plan.sections) == 1:
            unit = f"（全文约 {target} 字）" if lang == "zh" else f"(about {target} words in all)"
            user = f"{instruction}\n\n{unit}"
        else:
            pts = "；".join(s.points) if lang == "zh" else "; ".join(s.points)
            user = render(p["section"], instruction=instruction, plan=plan_text(plan, lang), sofar=sofar,
                          index=idx + 1, total=len(plan.sections), heading=s.heading, points=pts or s.heading,
                          target=target)
        return [{"role": "system", "content": p["system"]}, {"role": "user", "content": user}]

    def write_section(self, messages: list[dict], target: int, lang: str, index: int, heading: str,
                      before: str = "", instruction: str = "", redo: bool = False,
                      others: tuple[str, ...] = ()) -> str:
        """Section `index`, written by `_write_section`, its tokens counted in `self.use`."""
        text, use = self._write_section(messages, target, lang, index, heading, before, instruction, redo,
                                        others=others)
        with self._lock:
            self.use.add(use)
        return text

    def _write_section(self, messages: list[dict], target: int, lang: str, index: int, heading: str,
                       before: str = "", instruction: str = "", redo: bool = False,
                       start: str = "", others: tuple[str, ...] = ()) -> tuple[str, TokenUse]:
        """Section `index`: write, continue while short, cut when long — accepting only new text.

        Every piece is checked against `before` (the text so far) and the section itself:
        sentences that repeat are dropped. Pieces stream, and one is stopped as soon as its
        last sentences only repeat or it holds the new length asked for (`PieceWatch`), so
        a loop is not decoded to `max_tokens`. A piece that was mostly repetition is asked
        again with another seed and anti-repetition sampling; after `max_repeat_retries`
        such pieces, one new sub-point is asked for the missing length, and if that repeats
        too the section stops short (recorded in `self.stops`) rather than being padded.
        `redo`: the section is written again because it restated an earlier one (other seeds),
        continuing from `start` (its paragraphs that did not restate). `others`: the headings of
        the other sections (`other_headings`); a piece that starts one of them is stopped there
        (`writes_elsewhere`). Returns the text and
        where the tokens of this call went (not yet added to `self.use`; `start`'s are not in it).
        """
        p = _prompts(lang)
        use = TokenUse()
        text, anti, repeats, new_point, empty = start, False, 0, False, False
        recorded = False  # this section's stop is in self.stops
        # the section's conversation so far: each piece comes back as its own turn, as it was
        # decoded where that cleans to what was kept (`_shown`), so every request extends what
        # the backend's KV cache holds and only the new ask is processed (a merged, cleaned text
        # was processed again in full: 28 % of one dev prompt's wall time went to prompts)
        convo = [*messages, {"role": "assistant", "content": start}] if start else list(messages)
        for k in range(1 + self.config.max_continuations + self.config.max_repeat_retries + 1):
            have = count_length(text)
            if have >= target * 0.93:
                break
            more = target - have
            follow, ask = convo, ""
            new_point = bool(text) and repeats > self.config.max_repeat_retries
            if text:
                ask = render(p["new_point"] if new_point else p["continue"], more=more)
                follow = [*convo, {"role": "user", "content": ask}]
            kind = "draft" if not text else "new_point" if new_point else "retry" if anti else "continuation"
            # checked against the text so far, and for copies against the requests themselves
            # (small models echo them)
            context = _join(before, text)
            requests = "\n\n".join(x for x in (messages[-1]["content"], ask) if x)
            # two sentences in a row that bring (almost) nothing new stop the piece: both would
            # be dropped anyway, and a loop once started rarely ends (on three dev prompts, three
            # sentences instead of two wasted 18 % of the tokens on repeats against 15 %)
            clean = partial(_clean_section, heading=heading, others=others)
            watch = PieceWatch(context, more, clean, requests=requests, window=2,
                               elsewhere=partial(writes_elsewhere, others=list(others)), copy_run=self.config.copy_run or None)
            comp, raw = self._piece(follow, self._section_tokens(more, lang), self.seeds.piece(index, k, redo), anti,
                                    watch)
            if watch.reason == "loop":
                use.stopped_loops += 1
            self._learn_ratio(count_length(comp.text), comp.completion_tokens)  # all that was decoded
            piece = clean(raw)
            # dropping a repeated list item can leave its bare marker ("3.") behind; a piece cut
            # at max_tokens ends mid-sentence, and the next piece would start a new paragraph
            # after it: each piece is kept up to its last finished sentence
            kept = trim_dangling(_without_bare_markers(drop_repeats(piece, memory=watch.memory)))
            got, new = count_length(piece), count_length(kept)
            if new >= 3:
                text = _join(text, kept)
                convo = [*follow, {"role": "assistant", "content": _shown(raw, kept, clean)}]
            _spend(use, kind, comp.completion_tokens, count_length(comp.text), new if new >= 3 else 0)
            # stopped as it began copying, or began another section (an earlier one: writing it
            # again): a repeat, asked again differently, not an empty answer that ends the section
            copied = watch.reason in ("loop", "elsewhere") and new < 3
            if got < 3 and not copied:  # nothing (or only an echoed heading): one fresh try, then give up
                if text or empty:
                    break
                empty, anti = True, True
                continue
            if copied or (got >= 8 and new < 0.7 * got):  # mostly repetition: keep the new part, ask differently
                repeats += 1
                anti = True
                stop = new_point or (not text and repeats > self.config.max_repeat_retries)
                with self._lock:
                    self.repeats += 1
                    if stop:
                        self.stops.append({"heading": heading, "target": target, "length": count_length(text)})
                        recorded = True
                if stop:
                    break
            elif watch.reason == "loop":
                anti = True  # it fell into a loop after some new text: the next piece is asked differently
        # however the tries ended (spent, an empty answer), a section left short is a stop,
        # said so, never silently short
        if count_length(text) < target * 0.9 and not recorded:
            with self._lock:
                self.stops.append({"heading": heading, "target": target, "length": count_length(text)})
        if count_length(text) > target * 1.05:
            text = _shrink(use, "cut", text, cut_to_length(text, target))
        text = self._repair_leaks(text, lang, instruction)
        return _shrink(use, "ending", text, trim_dangling(text)), use

    def _repair_leaks(self, text: str, lang: str, instruction: str) -> str:
        """Rewrite each sentence with a language leak in the text's language; drop it when
        the rewrite still leaks. Never ship a leak as is."""
        if not language_leaks(text, instruction, lang):
            return text
        p = _prompts(lang)
        out = []
        for k, sent in enumerate(sentences(text)):
            if language_leaks(sent, instruction, lang):
                msg = [{"role": "user", "content": render(p["fix_leak"], text=sent.strip())}]
                fixed = self._chat(msg, max_tokens=math.ceil(count_length(sent) / self._units_per_token(lang) * 1.5) + 16,
                                   seed=self.seeds.leak_fix(k), purpose="leak_fix").text.strip().splitlines()
                fixed_s = fixed[0].strip() if fixed else ""
                if fixed_s and not language_leaks(fixed_s, instruction, lang) and count_length(fixed_s) >= 3:
                    out.append(fixed_s + ("\n" if sent.endswith("\n") else ""))
                continue
            out.append(sent)
        return "".join(out).strip()

    def _context_budget(self, instruction: str, plan: Plan, lang: str, max_new: int) -> int:
        n_ctx = self.backend.n_ctx or 32768
        r = self._units_per_token(lang)
        fixed = (count_length(instruction) + count_length(plan_text(plan, lang))) / r + 400
        budget = int(n_ctx * 0.9 - fixed - max_new)
        if budget < 200:
            raise BimoError(f"the context of {self.backend.uri} ({n_ctx} tokens) cannot hold the instruction, "
                            f"the plan and a {max_new}-token section; use a model with a longer context")
        return budget

    def run(self, instruction: str, run_dir: str | Path | None = None, on_event: Event | None = None,
            plan: Plan | None = None, progress: bool = False) -> LongformResult:
        """Write (or resume writing) the whole piece.

        A run goes: state opened (new, or resumed after its binding is checked) → plan made
        and saved → each section written into its slot and saved → in parallel mode, repeats
        across sections dropped, a transition at each join, the total trimmed → the text, ended
        on a finished sentence, saved as output.md. A killed run resumes at the first empty slot.
        """
        emit = on_event or (lambda e: None)
        t0 = time.perf_counter()
        run_dir = Path(run_dir) if run_dir else None
        if plan is not None:
            check_plan(plan)
        state = self._open(instruction, run_dir)
        instruction = state.instruction
        lang = state.lang or self.config.lang or detect_lang(instruction)
        lang = lang if lang in INITIAL_RATIO else "zh"
        state.lang = lang
        if state.plan is None:
            state.plan = rescale(plan, self.config.length) if plan is not None else self.make_plan(instruction, lang)
            state.sections = [None] * len(state.plan.sections)
            self._save(run_dir, state)
            if run_dir is not None:
                atomic_write_text(run_dir / "plan.json", state.plan.model_dump_json(indent=1))
        plan = state.plan
        # Fail before writing (the plan kept in the run folder) when the longest section cannot
        # be written in the model's context: the length is unreachable with this model.
        self._context_budget(instruction, plan, lang, self._section_tokens(max(s.length for s in plan.sections), lang))
        emit({"type": "plan", "plan": plan.model_dump()})
        bar = _Progress(self.config.length, len(plan.sections), progress)
        bar.update(state.written(), state.finished(), self.tokens)
        run = _Run(instruction, lang, plan, state, run_dir, emit, bar)
        if self.config.parallel > 1 and len(plan.sections) > 1:
            self._run_parallel(run)
        else:
            self._run_sequential(run)
        bar.close()
        text = state.render()
        if dangling_ending(text):  # the last section ended on a lead-in: end on a finished sentence
            last = state.sections[-1]
            assert last is not None
            self._thrown("ending", count_length(last.text) - count_length(trim_dangling(last.text)))
            last.text = trim_dangling(last.text)
            last.length = count_length(last.text)
            text = state.render()
        length = count_length(text)
        if self.stops and length < 0.9 * self.config.length:
            unit = "字" if lang == "zh" else "words"
            note = f"stopped at {length} of {self.config.length} {unit} to avoid repetition"
            state.stopped = {"length": length, "target": self.config.length, "sections": self.stops, "message": note}
            emit({"type": "stopped", "message": note})
            if progress:
                sys.stderr.write(note + "\n")
        self._save(run_dir, state)
        if run_dir is not None:
            atomic_write_text(run_dir / "output.md", text + "\n")
        result = LongformResult(text=text, length=length, plan=plan, run_dir=run_dir, tokens=self.tokens,
                                calls=self.calls, seconds=time.perf_counter() - t0,
                                sections=state.texts(len(plan.sections)))
        emit({"type": "done", "text": text, "length": result.length})
        return result

    def _remaining_target(self, run: _Run, idx: int) -> int:
        """Steer: give section idx its share of what is still missing."""
        later = run.plan.sections[idx:]
        heads = sum(count_length(s.heading) for s in later)
        missing = self.config.length - run.state.written() - heads
        share = run.plan.sections[idx].length / max(1, sum(s.length for s in later))
        return max(20, round(missing * share))

    def _run_sequential(self, run: _Run) -> None:
        """Sections in order, each seeing what `_sofar` shows of the text before it; a section
        that retells an earlier one is written again from its points."""
        for idx, sec in enumerate(run.plan.sections):
            if run.state.sections[idx] is not None:
                continue
            target = self._remaining_target(run, idx)
            budget = self._context_budget(run.instruction, run.plan, run.lang, self._section_tokens(target, run.lang))
            messages = self._section_messages(run, idx, target, self._sofar(run, idx, budget))
            write = partial(self._write_section, messages, target, run.lang, idx, sec.heading,
                            before=run.state.render(partial=True), instruction=run.instruction,
                            others=other_headings(run.plan.sections, idx))
            text, use = write()
            earlier = run.state.texts(idx)
            if earlier and restatement(text, earlier) > RESTATE_MAX:
                # retells an earlier section: its retelling paragraphs are written again (other
                # seeds) from its points, the rest kept; the version retelling less is kept
                with self._lock:
                    self.repeats += 1
                keep = without_restating(text, earlier)
                again, again_use = write(redo=True, start=keep)
                if restatement(again, earlier) < restatement(text, earlier):
                    _shrink(use, "redo", text, keep)  # the paragraphs written again: thrown away
                    text = again
                else:  # the new paragraphs retell even more: they are the ones thrown away
                    again_use.redo += again_use.kept + again_use.cut + again_use.ending
                    again_use.kept = again_use.cut = again_use.ending = 0
                use.add(again_use)
            with self._lock:
                self.use.add(use)
            self._finish_section(run, idx, text)

    def _finish_section(self, run: _Run, idx: int, text: str) -> None:
        """Checkpoint a written section, then tell the caller and the progress bar."""
        state = run.state
        state.sections[idx] = SectionText(text=text, length=count_length(text))
        self._save(run.run_dir, state)
        run.emit({"type": "section", "index": idx, "heading": run.plan.sections[idx].heading, "text": text,
                  "length": count_length(text)})
        written = state.written()
        run.emit({"type": "progress", "done": state.finished(), "total": len(run.plan.sections),
                  "length": written, "target": self.config.length, "tokens": self.tokens})
        run.bar.update(written, state.finished(), self.tokens)

    def _run_parallel(self, run: _Run) -> None:
        """Sections side by side from the plan alone (none sees another), then repeats across
        them dropped, a transition written at each join and the total trimmed back to target."""
        state, plan, lang = run.state, run.plan, run.lang
        todo = [i for i, done in enumerate(state.sections) if done is None]

        def work(idx: int) -> tuple[int, str]:
            sec = plan.sections[idx]
            messages = self._section_messages(run, idx, sec.length, _prompts(lang)["sofar_empty"])
            return idx, self.write_section(messages, sec.length, lang, idx, sec.heading,
                                           others=other_headings(plan.sections, idx))

        with ThreadPoolExecutor(max_workers=self.config.parallel) as pool:
            for idx, text in pool.map(work, todo):  # in plan order, checkpointed as each one is done
                self._finish_section(run, idx, text)
        sections: list[SectionText] = state.sections  # type: ignore[assignment]  # every one is written now
        # Sections written side by side may repeat each other: drop what an earlier one said.
        for idx in todo:
            sec = sections[idx]
            earlier = "\n\n".join(state.texts(idx))
            kept = trim_dangling(drop_repeats(sec.text, earlier)) if earlier else sec.text
            if kept != sec.text:
                self._thrown("repeat", sec.length - count_length(kept))
                with self._lock:
                    self.repeats += 1
                sec.text, sec.length = kept, count_length(kept)
        # Smooth the joins: a short transition opening each later section.
        p = _prompts(lang)

        def bridge(idx: int) -> tuple[int, str]:
            prev, nxt = sections[idx - 1].text[-300:], sections[idx].text[:300]
            msg = [{"role": "user", "content": render(p["bridge"], prev=prev, next=nxt)}]
            return idx, _clean_section(self._chat(msg, max_tokens=80, seed=self.seeds.bridge(idx), purpose="bridge").text, "")

        need = [i for i in range(1, len(plan.sections)) if i not in state.bridges]
        with ThreadPoolExecutor(max_workers=self.config.parallel) as pool:
            for idx, text in pool.map(bridge, need):
                state.bridges[idx] = text
        for idx, text in state.bridges.items():
            if not sections[idx].bridged:
                sections[idx].text = _join(text, sections[idx].text)
                sections[idx].bridged = True
        # The joins added text: trim the longest sections (by their length before the joins)
        # back so the total stays on target.
        over = state.written() - self.config.length
        if over > self.config.length * 0.03:
            for idx in sorted(range(len(sections)), key=lambda i: -sections[i].length):
                sec = sections[idx]
                cut = cut_to_length(sec.text, max(20, count_length(sec.text) - over))
                self._thrown("cut", count_length(sec.text) - count_length(cut))
                over -= count_length(sec.text) - count_length(cut)
                sec.text, sec.length = cut, count_length(cut)
                if over <= self.config.length * 0.02:
                    break
        self._save(run.run_dir, state)


class _Progress:
    """Progress on stderr: sections, length so far / target, tokens/s, ETA."""

    def __init__(self, target: int, sections: int, enabled: bool):
        from bimo.progress import progress_bar

        self.sections = sections
        self.t0 = time.perf_counter()
        self.tokens0: int | None = None
        self.bar = progress_bar(total=target, unit="字", desc=f"0/{sections} sections", disable=not enabled,
                                bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def update(self, length: int, done: int, tokens: int) -> None:
        if self.tokens0 is None:
            self.tokens0 = tokens
        dt = max(1e-6, time.perf_counter() - self.t0)
        self.bar.set_description_str(f"{done}/{self.sections} sections")
        self.bar.set_postfix_str(f"{(tokens - self.tokens0) / dt:.1f} tok/s")
        self.bar.n = min(length, self.bar.total)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
