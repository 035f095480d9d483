"""SFT -> DPO -> export -> load -> generate on the tiny model, with the checks that matter."""

from __future__ import annotations

import json

from bimo.train.models import read_run, resolve_base


def test_sft_writes_a_finished_run(sft_run):
    info = read_run(sft_run.run_dir)
    assert info["finished"] and info["stage"] == "sft" and not info["lora"]
    # The tiny template has {% generation %} markers, so loss is on assistant tokens only.
    assert info["loss_mode"] == "assistant"
    assert info["packing"] is False  # "auto" packs on GPUs only (padding-free packing is slow on CPU)
    assert (sft_run.model_dir / "model.safetensors").exists()
    assert (sft_run.run_dir / "loss.png").stat().st_size > 0
    losses = [h["loss"] for h in sft_run.history if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]


def test_dpo_reward_margin_rises(dpo_run, sft_run):
    info = read_run(dpo_run.run_dir)
    assert info["lora"] and info["base_checkpoint"] == str(sft_run.model_dir.resolve())
    margins = [h["rewards/margins"] for h in dpo_run.history if "rewards/margins" in h]
    assert len(margins) == 6
    # Step 1 is measured before any update (policy == reference), so its margin is 0.
    assert abs(margins[0]) < 1e-6
    assert margins[-1] > margins[0] and max(margins[-3:]) > 0
    assert (dpo_run.run_dir / "rewards.png").exists()
    assert (dpo_run.model_dir / "adapter_config.json").exists()


def test_export_register_and_generate(dpo_run, bimo_home):
    from bimo.llm import get_backend
    from bimo.train.export import export_run

    gguf = export_run(dpo_run.run_dir, "tiny-dpo", "q8_0")
    assert gguf.exists() and gguf.read_bytes()[:4] == b"GGUF"
    # The LoRA run was merged once and the merge is cached in the run folder.
    assert (dpo_run.run_dir / "merged" / "config.json").exists()
    be = get_backend("local:tiny-dpo", n_ctx=256, parallel=1)
    text = be.chat("Write one line about the river.", max_tokens=8, temperature=0).text
    assert isinstance(text, str)


def test_gguf_base_is_converted_and_cached(sft_run, bimo_home, toy_data, tmp_path, run_stage):
    from bimo.train.export import to_gguf

    gguf = to_gguf(sft_run.model_dir, bimo_home / "sft.f16.gguf", "f16")
    ckpt = resolve_base(str(gguf))
    assert ckpt.parent == bimo_home / "checkpoints"
    cfg = json.loads((ckpt / "config.json").read_text())
    assert "quantization_config" not in cfg
    # Same file -> same cached checkpoint, no second conversion.
    mtime = (ckpt / "config.json").stat().st_mtime_ns
    assert resolve_base(str(gguf)) == ckpt and (ckpt / "config.json").stat().st_mtime_ns == mtime
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ckpt)
    assert "<|im_start|>" in tok.chat_template and "{% generation %}" not in tok.chat_template

    # A GGUF as --base trains directly. Its template lost the markers and TRL knows no training
    # twin for it, so SFT falls back to prompt/completion loss on the last answer.
    run = run_stage("sft", data=toy_data["sft"], base=str(gguf), output_dir=tmp_path / "r", max_steps=2)
    info = read_run(run.run_dir)
    assert info["loss_mode"] == "completion" and info["base_checkpoint"] == str(ckpt.resolve())


def test_full_dpo_reference_is_loaded_from_the_saved_sft_model(sft_run, toy_data, tmp_path):
    import torch

    from bimo.train.config import load_config
    from bimo.train.run import build_trainer

    cfg = load_config("dpo", overrides={"data": toy_data["dpo"], "base": str(sft_run.run_dir),
                                        "output_dir": tmp_path / "d", "max_length": 128})
    trainer = build_trainer(cfg)[0]
    ref = trainer.ref_model
    assert ref is not None and ref is not trainer.model
    assert ref.config._name_or_path == str(sft_run.model_dir)
    # Same weights as the policy before the first step, i.e. the SFT model, not the tiny base.
    for (_, p), (_, q) in zip(trainer.model.named_parameters(), ref.named_parameters(), strict=True):
        assert torch.equal(p.detach().cpu(), q.detach().cpu())
