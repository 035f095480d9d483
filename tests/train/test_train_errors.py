"""Bad inputs fail with one-line BimoErrors before any training step (and before folders appear)."""

from __future__ import annotations

import json

import pytest

from bimo.errors import BimoError
from bimo.train.config import load_config


def test_missing_data_file(tmp_path, tiny_base, run_stage):
    with pytest.raises(BimoError, match="training data not found"):
        run_stage("sft", data=tmp_path / "nope.jsonl", base=str(tiny_base), output_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_wrong_record_format(tmp_path, tiny_base, toy_data, run_stage):
    # Preference pairs given to SFT, SFT records given to DPO.
    with pytest.raises(BimoError, match=r"pairs.jsonl:1: SFT records need `messages`"):
        run_stage("sft", data=toy_data["dpo"], base=str(tiny_base), output_dir=tmp_path / "r")
    with pytest.raises(BimoError, match="missing prompt, chosen, rejected"):
        run_stage("dpo", data=toy_data["sft"], base=str(tiny_base), output_dir=tmp_path / "r")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(BimoError, match="no non-empty assistant message"):
        run_stage("sft", data=bad, base=str(tiny_base), output_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_lora_on_missing_module(tmp_path, tiny_base, toy_data, run_stage):
    with pytest.raises(BimoError, match=r"q_projx not in this model; its linear layers are: .*q_proj"):
        run_stage("sft", data=toy_data["sft"], base=str(tiny_base), output_dir=tmp_path / "r", lora=True,
                  lora_target_modules=["q_projx"])
    assert not (tmp_path / "r").exists()


def test_missing_base_and_bad_settings(tmp_path, toy_data, run_stage):
    with pytest.raises(BimoError, match="GGUF file not found"):
        run_stage("sft", data=toy_data["sft"], base=str(tmp_path / "x.gguf"), output_dir=tmp_path / "r")
    with pytest.raises(BimoError, match="neither a bimo run nor an HF checkpoint"):
        run_stage("sft", data=toy_data["sft"], base=str(tmp_path), output_dir=tmp_path / "r")
    with pytest.raises(BimoError, match="lora_rank: unknown setting"):
        load_config("sft", overrides={"lora_rank": 8})
    with pytest.raises(BimoError, match="training needs `base`"):
        run_stage("sft", data=toy_data["sft"], output_dir=tmp_path / "r")


def test_records_longer_than_max_length_are_named_not_cut(tmp_path, tiny_base, run_stage):
    long = tmp_path / "long.jsonl"
    rows = [{"messages": [{"role": "user", "content": "Write a short line."},
                          {"role": "assistant", "content": "A short line."}]},
            {"messages": [{"role": "user", "content": "Write at length."},
                          {"role": "assistant", "content": " ".join(["word"] * 400)}]}]
    long.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(BimoError, match=r"1 of 2 SFT records exceed max_length 128 tokens and would be cut: "
                                        r"record 2 \([\d,]+ tokens, \d+% cut\)") as exc:
        run_stage("sft", data=long, base=str(tiny_base), output_dir=tmp_path / "r")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "r").exists()
    # asked for explicitly, truncation trains
    res = run_stage("sft", data=long, base=str(tiny_base), output_dir=tmp_path / "t", allow_truncation=True,
                    max_steps=1)
    assert (res.model_dir).exists()


def test_failed_gguf_conversion_leaves_no_half_file(tmp_path, monkeypatch):
    """The converter writes OUT.partial; a failure mid-way leaves neither a torn GGUF nor a
    changed old one, and a success renames the whole file into place."""
    from bimo.train import export

    root = tmp_path / "converter"
    (root / "conversion").mkdir(parents=True)
    (root / "conversion" / "__init__.py").write_text("")
    (root / "conversion" / "base.py").write_text("class TextModel:\n    def get_vocab_base_pre(self, t):\n        return ''\n")
    (root / "convert_hf_to_gguf.py").write_text(
        "import os, sys\nout = sys.argv[sys.argv.index('--outfile') + 1]\n"
        "open(out, 'wb').write(b'GGUF' + b'x' * 100)\n"
        "sys.exit('killed mid-way' if os.environ.get('FAIL') else 0)\n")
    monkeypatch.setattr(export, "converter_root", lambda: root)
    monkeypatch.setattr(export, "_clean_copy", lambda src, dst: dst)
    out = tmp_path / "export" / "m.q8_0.gguf"
    out.parent.mkdir()
    out.write_bytes(b"GGUF old and good")
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(BimoError, match="GGUF conversion failed: killed mid-way"):
        export.to_gguf(tmp_path / "ckpt", out)
    assert out.read_bytes() == b"GGUF old and good"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.q8_0.gguf"]
    monkeypatch.delenv("FAIL")
    assert export.to_gguf(tmp_path / "ckpt", out) == out and out.read_bytes() == b"GGUF" + b"x" * 100
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.q8_0.gguf"]
