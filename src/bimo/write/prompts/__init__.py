"""Prompts of the long-form engine (data files)."""
