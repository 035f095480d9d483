"""bimo (笔墨): build, run and judge writing-specialist LLMs, Chinese first and English too."""

__version__ = "0.1.0"
