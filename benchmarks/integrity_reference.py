"""Integrity measures on human long texts, the reference for the thresholds.

    python benchmarks/integrity_reference.py [FILE ...]

Without arguments it measures long human texts found on a Debian system with Python:
the vim tutor in Chinese and English (a translated pair of instructional prose), the GNU
GPL-3 and Python's own LICENSE. Prints one Markdown row per text.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bimo.integrity import measure

DEFAULTS = [
    "/usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8",
    "/usr/share/vim/vim90/tutor/tutor",
    "/usr/share/common-licenses/GPL-3",
    "/usr/lib/python3.11/LICENSE.txt",
]


def main() -> None:
    files = sys.argv[1:] or [f for f in DEFAULTS if Path(f).exists()]
    print("| text | units | repeated 8-grams | longest repeat | repeated sentences | near repeats | scaffolding | "
          "last new 8-gram | effective length | leaks | ending |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for f in files:
        m = measure(Path(f).read_text(encoding="utf-8", errors="replace"))
        print(f"| {f} | {m.units} | {m.repeated_share:.1%} | {m.longest_repeat} | {m.repeated_sentences:.1%} | "
              f"{m.near_repeats:.1%} | {len(m.scaffolding)} | {m.last_new:.2f} | {m.effective_length} | {len(m.leaks)} | {m.ending or 'finished'} |")


if __name__ == "__main__":
    main()
