"""The writing tasks: one YAML template per task, Chinese and English.

A task turns the user's text (a brief, a draft, a message) plus options into chat
messages. The language of the prompt follows the input unless asked otherwise, so a
Chinese draft gets Chinese instructions and the model answers in Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bimo.errors import BimoError
from bimo.templates import list_package_yaml, load_package_yaml, render
from bimo.text import detect_lang

PACKAGE = "bimo.write.templates"
LANGS = ("zh", "en")
TARGET_NAMES = {"zh": {"zh": "中文", "en": "英文"}, "en": {"zh": "Chinese", "en": "English"}}


@dataclass
class TaskOptions:
    instruction: str = ""
    style: str = ""
    sample: str = ""
    target: str = ""  # translation target language (zh/en or a name)
    history: list[dict] = field(default_factory=list)


def task_names() -> list[str]:
    return [n.removesuffix(".yaml") for n in list_package_yaml(PACKAGE)]


def load_task(name: str) -> dict:
    names = task_names()
    if name not in names:
        raise BimoError(f"unknown task '{name}'; valid tasks: {', '.join(names)}")
    return load_package_yaml(PACKAGE, f"{name}.yaml")


def resolve_lang(text: str, lang: str | None) -> str:
    if lang:
        if lang not in LANGS:
            raise BimoError(f"unknown language '{lang}'; valid: {', '.join(LANGS)}")
        return lang
    detected = detect_lang(text)
    return detected if detected in LANGS else "zh"


def build_messages(task: str, text: str, lang: str | None = None,
                   options: TaskOptions | None = None) -> list[dict]:
    """Chat messages for a task. Raises a one-line error on empty input."""
    spec = load_task(task)
    opts = options or TaskOptions()
    if not text or not text.strip():
        raise BimoError(f"empty input: task '{task}' needs a {spec.get('input', 'text')}")
    lang = resolve_lang(text, lang)
    tpl = spec[lang]
    values = {"input": text.strip(), "instruction": opts.instruction.strip()}
    if task == "style":
        if not opts.style and not opts.sample:
            raise BimoError("task 'style' needs --style DESCRIPTION or --sample FILE")
        values["style"] = opts.style or ("下面范文" if lang == "zh" else "the sample below")
        if opts.sample:
            head = "范文：" if lang == "zh" else "Sample:"
            values["sample"] = f"\n{head}\n{opts.sample.strip()}\n"
    if task == "translate":
        target = opts.target or ("en" if detect_lang(text) == "zh" else "zh")
        values["target"] = TARGET_NAMES[lang].get(target, target)
    messages = [{"role": "system", "content": render(tpl["system"], **values)}]
    messages += list(opts.history)
    messages.append({"role": "user", "content": render(tpl["user"], **values)})
    return messages
