"""Where the writer's tokens go, and the pieces it stops early instead of throwing away."""

from __future__ import annotations

import json
from functools import partial

import pytest
from pydantic import ValidationError
from write_fakes import A, B, C, RequestLog, StreamLog, last_user

from bimo.integrity import measure
from bimo.llm.base import GenParams
from bimo.text import count_length
from bimo.write.longform import LongformConfig, LongformWriter
from bimo.write.plan import Plan, Section
from bimo.write.runstate import TokenUse, load_state
from bimo.write.watch import MAY_END, PieceWatch


def test_watch_stops_a_loop_and_a_piece_that_has_enough():
    watch = PieceWatch("", None)
    loop = (A + B) * 3
    said = [watch.check(loop[:i]) for i in range(1, len(loop) + 1)]
    assert said.count("loop") >= 1 and said.index("loop") >= len(A + B)  # new text is never a loop
    assert watch.reason == "loop" and len(A + B) < watch.at < 2 * len(A + B)  # three repeated sentences
    # repeats of the context count too, unfinished sentences wait for their end
    seen = PieceWatch(A + B, None)
    assert seen.check(A[:10]) is None and seen.marks == [(0, 0)]
    pasted = A + B
    assert "loop" in [seen.check(pasted[:i]) for i in range(1, len(pasted) + 1)] and seen.at == len(A) + 35
    enough = PieceWatch("", count_length(A))
    assert enough.check(A + B[:5]) == "enough" and enough.at == len(A)


def test_watch_stops_a_sentence_as_soon_as_it_opens_by_copying():
    """Between sentence ends, a sentence whose first 16 units copy the context (or the piece's
    own earlier sentences) stops the piece before that sentence; the requests do not count."""

    streamed = []  # characters streamed when the watch said stop

    def feed(watch: PieceWatch, text: str) -> str | None:
        for i in range(2, len(text) + 1, 2):  # two characters a token, as a stream
            piece = text[:i]
            said = watch.check(piece) if MAY_END.search(text[i - 2:i]) else watch.check_tail(piece)
            if said:
                streamed.append(i)
                return said
        return None

    context = PieceWatch(A, None, copy_run=16)
    assert feed(context, C + A) == "loop" and context.at == len(C)
    # 16-odd characters into the copy, not at its end as the sentence check does (two of them)
    assert len(C) + 16 <= streamed[-1] <= len(C) + 20
    own = PieceWatch("", None, copy_run=16)  # the piece's own earlier sentence
    assert feed(own, B + C + B) == "loop" and own.at == len(B + C)
    fresh = PieceWatch(A, None, copy_run=16)  # new text never stops
    assert feed(fresh, B + C) is None and fresh.reason is None
    echo = PieceWatch("", None, copy_run=16, requests=A)  # an echo of the request is the sentence check's
    assert feed(echo, A + C) is None
    off = PieceWatch(A, None, window=2)  # without copy_run only the sentence check stops it, later
    assert feed(off, C + A) == "loop" and off.at == len(C + A)


def test_copy_run_shorter_than_an_8gram_is_refused():
    with pytest.raises(ValidationError, match="copy_run must be 0"):
        LongformConfig(length=500, copy_run=4)
    assert PieceWatch(A, None, copy_run=4).copy_run == 8  # the watch judges a run by its 8-grams
    assert LongformConfig(length=500, copy_run=0).copy_run == 0


def test_a_piece_that_begins_by_copying_is_asked_again_not_given_up():
    """A continuation stopped before it wrote anything new is a repeat (re-asked with anti-
    repetition sampling), not an empty answer (which would end the section)."""
    def answer(req):
        if len(req["messages"]) <= 2:
            return A
        return A + C if not req.get("presence_penalty") else C

    be = StreamLog(answer)
    w = LongformWriter(be, LongformConfig(length=count_length(A + C), seed=3, lang="zh", copy_run=16))
    res = w.run("以外婆的菜园为题写一篇散文。")
    assert res.text.count("薄霜") == 0 and res.text.count("辣椒越来越红") == 1 and "嫩绿的芽" in res.text
    assert w.use.stopped_loops == 1 and w.repeats == 1 and be.requests[2].get("presence_penalty")
    assert be.sent[1] < 16  # the copy was abandoned a few tokens in


def test_a_piece_that_starts_an_earlier_section_is_asked_again_not_given_up():
    """A held-out report's last section began again with "### 引言": a piece that opens with
    another section's heading is stopped there and, having written nothing of its own, is a
    repeat (re-asked with anti-repetition sampling), not an empty answer ending the section."""
    def answer(req):
        if "2/2" in last_user(req) and not req.get("presence_penalty"):
            return "### 秋\n\n" + A
        return A if "1/2" in last_user(req) else C

    be = StreamLog(answer)
    plan = Plan(title="", sections=[Section(heading="秋", points=["辣椒"], length=count_length(A)),
                                    Section(heading="春", points=["新芽"], length=count_length(C))])
    w = LongformWriter(be, LongformConfig(length=count_length(A + C), seed=1, lang="zh"))
    res = w.run("写散文。", plan=plan)
    assert res.text.count("# 秋") == 1 and res.text.count("辣椒越来越红") == 1 and "嫩绿的芽" in res.text
    assert w.repeats == 1 and not w.stops
    assert any(r.get("presence_penalty") and "2/2" in last_user(r) for r in be.requests)


def test_a_looping_piece_is_stopped_while_streaming():
    def answer(req):
        if len(req["messages"]) <= 2:
            return A + B * 40  # new text, then a loop until max_tokens
        return C

    be = StreamLog(answer)
    length = count_length(A + B + C)
    w = LongformWriter(be, LongformConfig(length=length, seed=3, lang="zh"))
    res = w.run("以外婆的菜园为题写一篇散文。")
    assert res.text.count("薄霜") == 1 and "嫩绿的芽" in res.text
    assert measure(res.text).repeated_share == 0.0
    assert be.sent[0] < len(answer(be.requests[0])) // 2 - 100  # abandoned, far before max_tokens
    assert w.use.stopped_loops == 1 and w.use.total() == w.tokens == sum(be.sent)
    assert be.requests[1].get("presence_penalty")  # the loop makes the next piece anti-repetitive


def test_a_piece_stops_once_it_has_the_length_asked_for():
    be = StreamLog(lambda req: A + B + C)
    w = LongformWriter(be, LongformConfig(length=count_length(A), seed=1, lang="zh"))
    res = w.run("写散文。")
    assert res.text == A and len(be.sent) == 1 and be.sent[0] < len(A + B + C) // 2  # stopped, never cut
    assert w.use.cut == 0 and w.use.kept > 0


def test_where_the_tokens_went_adds_up_and_is_saved(tmp_path):
    def answer(req):
        user = last_user(req)
        if "2/2" in user and req.get("presence_penalty"):
            return C                               # the section written again brings new text
        return A                                   # section 1; section 2 first restates it

    be = RequestLog(answer)
    plan = Plan(title="", sections=[Section(heading="秋", points=["辣椒"], length=count_length(A)),
                                    Section(heading="春", points=["新芽"], length=count_length(C))])
    w = LongformWriter(be, LongformConfig(length=count_length(A + C), seed=1, lang="zh"))
    w.run("写散文。", plan=plan, run_dir=tmp_path / "run")
    use = w.use
    assert use.total() == w.tokens == sum(max(1, len(answer(r)) // 2) for r in be.requests)
    assert use.repeat > 0 and use.kept > 0 and use.wasted() == use.repeat + use.empty + use.redo + use.cut + use.ending
    assert use.draft + use.continuation + use.retry + use.new_point == use.total()  # no plan call: all sections
    saved = load_state(tmp_path / "run").use
    assert saved == use and json.loads((tmp_path / "run" / "state.json").read_text())["use"]["kept"] == use.kept
    assert "kept" in use.line() and "loops stopped early" in use.line()
    # a checkpoint taken while another section is half written (parallel mode): its tokens
    # are in `tokens` but not yet in `use`, and a run that stops there has thrown them away
    w.tokens += 40
    w._save(tmp_path / "run", load_state(tmp_path / "run"))
    saved = load_state(tmp_path / "run")
    assert saved.tokens == saved.use.total() and saved.use.interrupted == 40 and w.use.interrupted == 0


def test_a_section_cut_to_length_counts_the_cut_tokens():
    be = RequestLog(lambda req: A + B + C)  # no streaming: the whole answer, then cut
    w = LongformWriter(be, LongformConfig(length=count_length(A), seed=1, lang="zh"))
    assert w.run("写散文。").text == A
    assert w.use.cut > 0 and w.use.kept + w.use.cut == w.tokens


def test_the_losing_copy_of_a_rewritten_section_is_waste():
    use, lost = TokenUse(kept=10, cut=2), TokenUse(kept=7, cut=1, repeat=3, ending=1)
    lost.redo += lost.kept + lost.cut + lost.ending
    lost.kept = lost.cut = lost.ending = 0
    use.add(lost)
    assert (use.kept, use.redo, use.repeat, use.wasted(), use.total()) == (10, 9, 3, 14, 24)
    use.move("ending", 100)
    assert use.kept == 0 and use.ending == 10


def test_an_abandoned_stream_stops_generating_and_counts_its_tokens(tiny_backend):
    request = {**GenParams(max_tokens=3000, seed=1).to_request([{"role": "user", "content": "Write a long story."}]),
               "ignore_eos": True}
    stream = tiny_backend.stream_request(request, cache=True)
    got = 0
    for _ in stream:
        got += 1
        if got == 20:
            stream.close()
    comp = stream.completion
    assert comp is not None and got < 3000  # generation stopped: the slot is free again
    assert comp.completion_tokens == got  # counted although the stream ended without usage
    again = tiny_backend.stream_request(request, cache=True)  # the same request: not answered from the cache
    for _ in again:
        again.close()
    assert again.completion is not None and not again.completion.cached  # a cut-off answer is never cached


def test_tokens_of_a_real_run_are_accounted(tiny_backend, tmp_path):
    w = LongformWriter(tiny_backend, LongformConfig(length=300, seed=2, lang="en"))
    res = w.run("Write a 300-word story about a lighthouse keeper.", run_dir=tmp_path / "run")
    use = load_state(tmp_path / "run").use
    assert use == w.use and use.total() == res.tokens > 0 and use.kept > 0
    assert use.draft + use.continuation + use.retry + use.new_point + use.plan + use.leak_fix == use.total()


def test_only_the_restating_paragraphs_of_a_section_are_written_again(monkeypatch):
    # the retold sentences below are each a restatement of one earlier sentence, which the piece
    # check drops at once (next test); without that rule the section-level check must catch them
    import bimo.write.longform as longform

    monkeypatch.setattr(longform, "drop_repeats", partial(longform.drop_repeats, restated=False))
    new = "那年雨多。"
    retold = ("秋天到了，南瓜躺在田埂边晒太阳，外婆弯下腰把辣椒一串一串挂在屋檐下面。屋檐下的辣椒一天比一天红，像一串串小灯笼，"
              "风一吹就轻轻地摇。\n\n冬天的菜园安静了下来，只剩几垄白菜盖着一层薄霜，外婆说这是一年里白菜最甜的时候。"
              "她拔起一棵白菜，抖落上面的泥土，带回家里煮了一锅汤。")  # section 1 in other words: no 8-gram copy

    def answer(req):
        if "2/2" not in req["messages"][1]["content"]:
            return f"{A}\n\n{B}"                  # section 1
        if len(req["messages"]) == 2:
            return f"{new}\n\n{retold}"            # section 2: one new paragraph, then section 1 retold
        return C                                   # what is written again

    be = RequestLog(answer)
    plan = Plan(title="", sections=[Section(heading="秋冬", points=["辣椒", "白菜"], length=count_length(A + B)),
                                    Section(heading="春", points=["新芽"], length=count_length(new + C))])
    w = LongformWriter(be, LongformConfig(length=count_length(A + B + new + C), seed=1, lang="zh"))
    res = w.run("写散文。", plan=plan)
    assert res.sections[1] == f"{new}\n\n{C}" and "薄霜" not in res.sections[1]
    redo = [r for r in be.requests if len(r["messages"]) > 2 and "2/2" in r["messages"][1]["content"]]
    assert redo[0]["messages"][2] == {"role": "assistant", "content": new}  # the new paragraph is kept
    first = max(1, len(f"{new}\n\n{retold}") // 2)
    # the retold paragraphs (cut to the section's length first) are waste, the new one is kept
    assert w.use.redo > 0 and w.use.redo + w.use.cut < first and w.use.total() == w.tokens


def test_restated_sentences_are_dropped_from_the_piece_before_any_rewrite():
    new = "那年雨多。"
    retold = ("秋天到了，南瓜躺在田埂边晒太阳，外婆弯下腰把辣椒一串一串挂在屋檐下面。屋檐下的辣椒一天比一天红，像一串串小灯笼，"
              "风一吹就轻轻地摇。")

    def answer(req):
        if "2/2" not in req["messages"][1]["content"]:
            return f"{A}\n\n{B}"
        if len(req["messages"]) == 2:
            return f"{new}\n\n{retold}"
        return C

    plan = Plan(title="", sections=[Section(heading="秋冬", points=["辣椒", "白菜"], length=count_length(A + B)),
                                    Section(heading="春", points=["新芽"], length=count_length(new + C))])
    w = LongformWriter(RequestLog(answer), LongformConfig(length=count_length(A + B + new + C), seed=1, lang="zh"))
    res = w.run("写散文。", plan=plan)
    assert "辣椒" not in res.sections[1] and "嫩绿的芽" in res.sections[1] and w.use.redo == 0


def test_a_re_ask_that_loops_is_stopped_sooner():
    s1 = "那年秋天外婆在菜园东头搭了一个竹架子，把丝瓜藤一根根牵了上去。"

    def answer(req):
        return s1 * 3 if len(req["messages"]) <= 2 else B + C + s1 * 6  # a repeated draft, then a re-ask that loops

    be = StreamLog(answer, pace=0.03)
    # the sentence rule on its own (a copy is stopped sooner still: the test above)
    w = LongformWriter(be, LongformConfig(length=count_length(s1 + B + C) + 200, seed=1, lang="zh",
                                          max_repeat_retries=1, copy_run=0))
    w.run("写散文。")
    assert be.requests[1].get("presence_penalty")  # the second piece is a re-ask
    # stopped after two repeated sentences (a piece that is not a re-ask waits for three)
    assert (len(B + C) + 2 * len(s1)) // 2 <= be.sent[1] < (len(B + C) + 3 * len(s1)) // 2


def test_the_server_s_slotted_backend_streams_pieces_too():
    """Long-form jobs of `bimo serve` write through the slot pool: their pieces stream (and
    stop early) when the backend behind the pool streams."""
    from bimo.serve.slots import SlotPool, SlottedBackend

    be = StreamLog(lambda req: A + B + C)
    slotted = SlottedBackend(SlotPool(be))
    assert slotted.can_stream and not SlottedBackend(SlotPool(RequestLog(lambda req: A))).can_stream
    w = LongformWriter(slotted, LongformConfig(length=count_length(A), seed=1, lang="zh"))
    assert w.run("写散文。").text == A and be.sent and be.sent[0] < len(A + B + C) // 2


def test_a_piece_that_starts_a_later_section_is_stopped_at_its_heading():
    """Seen in a held-out run: the first section of a tidal-locking piece wrote "### 物理原理",
    the next section's heading, and that section's content, which the next section then wrote
    again. The stream stops at the later heading; that part is written in its own turn."""
    autumn, winter = count_length(A + C), count_length(B)
    plan = Plan(title="", sections=[Section(heading="秋", length=autumn), Section(heading="冬", length=winter)])

    def answer(req):
        if len(req["messages"]) > 2:
            return C                                   # a continuation
        if "「秋」" in last_user(req):
            return A + "\n\n### 冬\n\n" + B + C * 10  # goes on into the next section
        return B

    be = StreamLog(answer)
    res = LongformWriter(be, LongformConfig(length=autumn + winter + 2, seed=1, lang="zh")).run("写散文。", plan=plan)
    assert res.text == "## 秋\n\n" + A + "\n\n" + C + "\n\n## 冬\n\n" + B
    assert be.sent[0] * 2 <= len(A) + 12  # stopped at the heading, not decoded on
