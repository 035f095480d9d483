"""Evaluation: length scores, LLM judges, pairwise win rates, ratings and reports.

Modules are small and import lazily so `bimo eval length` does not pay for
scipy or matplotlib:

- `length`   LongBench-Write length score S_l and length buckets
- `battles`  the battle record and loading battles from JSONL or a store
- `store`    SQLite battle store safe for several writers
- `winrate`  win rates with bootstrap intervals and length control
- `ratings`  Bradley-Terry ratings on the Elo scale with bootstrap intervals
- `rubrics`  judge prompts as YAML data; `rubric` loads them and parses verdicts
- `judge`    pointwise judging; `pairwise` side-by-side judging; `agreement` self-consistency
- `report`   HTML + PNG report of a run folder
"""
