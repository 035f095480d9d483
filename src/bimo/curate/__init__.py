"""bimo curate: Chinese-first corpus curation (filters, quality/genre models, dedup, decontamination, mixing).

Entry points: `bimo.curate.pipeline.run(recipe)`, the operators in this package
(each a `DocStep` with `run(docs) -> docs`), and the `bimo curate` CLI in `cli.py`.
See docs/curate.md.
"""
