"""`bimo pipeline`: the whole system in one command, from a corpus to a judged model.

One YAML recipe drives curate -> synth (backtranslation + constitutional pairs) ->
[pretrain] -> SFT -> DPO -> export -> eval against the base model. Each stage writes
into its own numbered folder of the run folder and is recorded in `pipeline.json`,
so `--resume` skips finished stages and lets an interrupted one use its own resume.
"""
