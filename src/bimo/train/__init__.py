"""Training stage: continual pretraining, SFT and DPO on TRL, LoRA or full, exported to GGUF.

Modules: `config` (pydantic config from YAML + overrides), `data` (record checks),
`models` (base model specs -> saved HF checkpoints, GGUF conversion, LoRA merges),
`lora`, `run` (one stage -> run folder), `plots`, `export` (GGUF + registry),
`launch` (accelerate), `tiny` (offline toy model/data), `cli` (`bimo train`).
Heavy libraries (torch, transformers, trl, peft) are imported inside functions only.
"""
