"""Progress output: a bar on a terminal, short lines in a log."""

from __future__ import annotations

import io

from bimo.progress import LineProgress, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_a_log_gets_lines():
    assert not isinstance(progress_bar(total=3, file=_Terminal()), LineProgress)
    assert isinstance(progress_bar(total=3, file=io.StringIO()), LineProgress)
    assert not isinstance(progress_bar(total=3, file=io.StringIO(), disable=True), LineProgress)


def test_lines_are_throttled_marked_and_closed():
    log = io.StringIO()
    bar = progress_bar(total=1000, desc="pull x", unit="B", unit_scale=True, file=log, every=3600)
    for _ in range(1000):  # a tqdm bar would draw frames for these; nothing here before a mark
        bar.update(1)
        bar.set_postfix(ok=1, refresh=False)
    assert log.getvalue() == ""
    bar.mark("chunk 1/1")
    bar.close()
    assert log.getvalue().splitlines()[0].startswith("pull x: 1.00kB/1.00kB (100%), chunk 1/1 [")
    assert len(log.getvalue().splitlines()) == 1  # close adds nothing new after the mark


def test_iterating_and_every_zero_print_each_change():
    log = io.StringIO()
    items = list(progress_bar(["a", "b"], desc="curate", unit="shard", file=log, every=0))
    assert items == ["a", "b"]
    assert [ln.split(" [")[0] for ln in log.getvalue().splitlines()] == ["curate: 1 shard", "curate: 2 shard"]
    assert "\r" not in log.getvalue()
