"""Normalisation: NFKC (which folds full-width forms to half-width), whitespace,
and optional traditional → simplified conversion with OpenCC (its phrase tables, plus the aspect
particle 著 → 着 after verbs, which OpenCC's t2s leaves alone).

NFKC folds full-width Latin letters and digits to ASCII — and also the
full-width comma, colon, semicolon, question and exclamation marks. Chinese
text should keep those, so next to Han characters they are put back
(`zh_punct`, on by default); `。、「」` are untouched by NFKC anyway.
"""

from __future__ import annotations

import re

from bimo.curate.base import Doc, DocStep
from bimo.extras import require
from bimo.text import normalize

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_AFTER_HAN = re.compile(f"(?<=[{_HAN}])([,;:?!)])|([,;:?!(])(?=[{_HAN}])")


# OpenCC's t2s keeps 著: in its standard 著 is a character of its own (著作, 显著, 土著), and the
# aspect particle 着 is written 著 only in Taiwan-style text, which its Taiwan variant tables convert
# everywhere (显著 → 显着, 土著 → 土着). So after t2s, 著 becomes 着 only right after a verb that takes
# the particle (骑著 → 骑着, 想著 → 想着) and not before 作/名/称/述/录/者 (著作, 著名, 著称…).
_ZHE_VERBS = ("骑想看说笑走拿带穿等听坐站躺跟随望写唱吃喝睡抱拉握盯闭开关挂放留藏记忍接顺沿朝向冲靠趁照按"
              "哭喊叫跑跳飞摇抬低睁瞪守护陪背扛提捧举牵领挤急忙试活用戴披醒盼念怕愁恨爱疼哄逗摸拍敲推扶"
              "跪趴蹲吹弹画织缝洗扫擦端夹咬嚼含叼揣攥捏搂挽系插堆摆晾晒烤煮炒蒸熬")
_ZHE = re.compile(f"(?<=[{_ZHE_VERBS}])著(?![作名称述录者])")


def t2s_particles(text: str) -> str:
    """著 → 着 where it is the aspect particle after a verb (see `_ZHE`)."""
    return _ZHE.sub("着", text)


def restore_zh_punct(text: str) -> str:
    """ASCII , ; : ? ! ( ) touching a Han character → full-width forms."""
    return _AFTER_HAN.sub(lambda m: _FULL[m.group(0)], text)


class Normalizer(DocStep):
    """Rewrites `text` in place; rejects documents left empty."""

    name = "normalize"

    def __init__(self, t2s: bool = False, zh_punct: bool = True):
        super().__init__()
        self.t2s, self.zh_punct = t2s, zh_punct
        self._cc = None
        if t2s:
            require("curate", "t2s (traditional to simplified)", ("opencc",))
            import opencc

            self._cc = opencc.OpenCC("t2s")

    def process(self, doc: Doc) -> str | None:
        text = normalize(doc["text"])
        if self.zh_punct:
            text = restore_zh_punct(text)
        if self._cc is not None:
            converted = t2s_particles(self._cc.convert(text))
            if converted != text:
                self.stats.tags["t2s_converted"] += 1
            text = converted
        doc["text"] = text
        return None if text else "empty_after_normalize"
