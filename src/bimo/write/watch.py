"""Stop a streamed piece as soon as it is looping or already long enough.

A small model that falls into a loop keeps pasting the same sentences until `max_tokens`;
the writer then drops them (`integrity.drop_repeats`) — every one of those tokens was
decoded for nothing. A piece that runs past what it was asked for is cut to length
afterwards, the same waste. `PieceWatch` looks at the piece each time a sentence ends and
says when to abandon the stream: its last sentences added (almost) no new text, or its new
text already reaches what is needed. The text up to that point is kept and checked as usual.
With `copy_run` it also looks at the sentence being written between sentence ends: one that
opens by copying a run of the text so far is a loop starting, stopped before its end (the
writer's `LongformConfig.copy_run`, 16 units by default: docs/write.md, fourth round).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bimo.integrity import NGRAM, RepeatMemory, drop_repeats, ngram_set, units
from bimo.text import _SENTENCE_END, count_length, sentences

#: characters after which a sentence may have ended: only then is the piece looked at
MAY_END = re.compile(r"[。！？!?…；;.\n]")


class PieceWatch:
    """Decides, at each sentence end of a streaming piece, whether to stop it.

    `context` is what the piece must not repeat (the text so far), `requests` what it must
    not copy (the prompt: `RepeatMemory`), `clean`
    turns the raw piece into what the writer would keep before the repeat check, `need` is
    the new length asked for (None: no length stop). A loop is `window` sentences in a row
    that together bring at least `min_units` units of which under `new_share` are new.
    `elsewhere` gives where the piece starts writing what is not its part (another section's
    heading), if anywhere: the piece stops there ("elsewhere").
    `copy_run`: a sentence whose first `copy_run` units copy the context or the piece's own
    earlier sentences (every 8-gram of them seen) stops the piece before that sentence, as a
    "loop", without waiting for its end (`check_tail`). The requests are not looked at here:
    a sentence that echoes its plan point goes at the sentence check, and the piece goes on.
    """

    def __init__(self, context: str, need: int | None, clean: Callable[[str], str] = str.strip, *,
                 requests: str = "", window: int = 3, min_units: int = 12, new_share: float = 0.2,
                 elsewhere: Callable[[str], int | None] | None = None, copy_run: int | None = None):
        self.context = context
        self.requests = requests
        self._memory: RepeatMemory | None = None  # the context's n-grams, built at the first check
        self.need = need
        self.clean = clean
        self.window = window
        self.min_units = min_units
        self.new_share = new_share
        self.elsewhere = elsewhere
        self.copy_run = max(copy_run, NGRAM) if copy_run else None  # a run is judged by its 8-grams
        self._seen: set[tuple[str, ...]] | None = None  # the context's and the piece's 8-grams, for copy_run
        self._done = 0  # characters of the piece in complete sentences at the last check
        # (units of the piece, units of it that are new) at its start and at each sentence end
        self.marks: list[tuple[int, int]] = [(0, 0)]
        self.reason: str | None = None
        self.at = 0  # characters of the piece when it was stopped

    @property
    def memory(self) -> RepeatMemory:
        """What the context says, built once: a piece is checked at every sentence end, and
        the context (the whole text so far) is what takes the time."""
        if self._memory is None:
            self._memory = RepeatMemory(self.context, requests=self.requests)
        return self._memory

    def check(self, text: str) -> str | None:
        """"loop", "enough" or "elsewhere" when the stream should stop now, else None. Only complete
        sentences count: the last, unfinished one waits for its end. The first stop is final."""
        if self.reason:
            return self.reason
        cut = self.elsewhere(text) if self.elsewhere else None
        if cut is not None:
            self.reason, self.at = "elsewhere", cut
            return self.reason
        parts = sentences(text)
        if parts and not _SENTENCE_END.search(parts[-1]):  # splits fall on matches: one inside ends it
            parts = parts[:-1]
        done = "".join(parts)
        piece = self.clean(done)
        length = count_length(piece)
        if self.copy_run and len(done) > self._done:
            self.seen.update(ngram_set(done[self._done:]))
        self._done = len(done)
        if length == self.marks[-1][0]:
            return None
        new = count_length(drop_repeats(piece, memory=self.memory))
        self.marks.append((length, new))
        reason = None
        if self.need is not None and new >= self.need:
            reason = "enough"
        elif len(self.marks) > self.window:
            units0, new0 = self.marks[-1 - self.window]
            if length - units0 >= self.min_units and new - new0 < self.new_share * (length - units0):
                reason = "loop"
        if reason:
            self.reason, self.at = reason, len(done)
        return reason

    @property
    def seen(self) -> set[tuple[str, ...]]:
        if self._seen is None:
            self._seen = ngram_set(self.context)
        return self._seen

    def check_tail(self, text: str) -> str | None:
        """"loop" when the sentence being written (after the last complete one `check` saw)
        opens with `copy_run` units copied from the context or the piece, else None. Its last
        unit may be a word still being decoded, so it is left out."""
        if self.reason or not self.copy_run:
            return self.reason
        toks = units(text[self._done:])[:-1]
        if len(toks) < self.copy_run:
            return None
        if all(tuple(toks[i:i + NGRAM]) in self.seen for i in range(self.copy_run - NGRAM + 1)):
            self.reason, self.at = "loop", self._done
        return self.reason
