"""Every bad setting, flag or recipe, is one line naming the key and what is allowed, before any work."""

import os
import subprocess
import sys

import pytest
from curate_util import write_jsonl
from typer.testing import CliRunner

from bimo.curate.cli import app
from bimo.errors import BimoError

DOC = {"id": "a", "text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"}

FLAGS = [
    (["dedup", "{in}", "-o", "{out}", "--method", "foo"], "dedup.method", "'minhash', 'simhash' or 'none'"),
    (["dedup", "{in}", "-o", "{out}", "--threshold", "2"], "dedup.threshold", "less than or equal to 1"),
    (["dedup", "{in}", "-o", "{out}", "--workers", "0"], "workers", "greater than or equal to 1"),
    (["run", "-i", "{in}", "-o", "{out}", "--quality", "1.5"], "steps.quality.threshold", "less than or equal to 1"),
    (["run", "-i", "{in}", "-o", "{out}", "--workers", "0"], "workers", "greater than or equal to 1"),
    (["run", "-i", "{in}", "-o", "{out}", "--langs", "zh,klingon"], "steps.langid.keep", "'zh', 'en' or 'other'"),
]

RECIPES = [
    ("steps: [{length: {min_len: {zh: 8, en: abc}}}]", "steps.length.min_len.en", "valid number"),
    ("steps: [{length: {min_len: {zh: -1}}}]", "steps.length.min_len.zh", "greater than or equal to 0"),
    ("steps: [{quality: {threshold: 7}}]", "steps.quality.threshold", "less than or equal to 1"),
    ("steps: [{langid: {keep: [zh, klingon]}}]", "steps.langid.keep", "'zh', 'en' or 'other'"),
    ("steps: [{symbols: {max_digit_ratio: {xx: 0.2}}}]", "key 'xx'", "'zh', 'en' or 'other'"),
    ("steps: [{repetition: {max_top_ngram_frac: {zh: {3: 1.5}}}}]", "max_top_ngram_frac.zh.3", "less than or equal"),
    ("steps: [{boilerplate: {max_hits: 0}}]", "steps.boilerplate.max_hits", "greater than or equal to 1"),
    ("steps: [{genre: {drop: [westerns]}}]", "steps.genre", "unknown genre 'westerns'"),
    ("steps: [{decontam: {eval_sets: [in.jsonl], mode: maybe}}]", "steps.decontam.mode", "'drop' or 'flag'"),
    ("steps: [{quality: {treshold: 0.5}}]", "steps.quality.treshold", "Unexpected keyword"),
    ("dedup: {bands: 0}", "dedup.bands", "greater than or equal to 1"),
    ("dedup: {threshold: 1.2}", "dedup.threshold", "less than or equal to 1"),
    ("workers: 0", "workers", "greater than or equal to 1"),
    ("mix: {lang: {zh: 4, klingon: 1}}\nsteps: [{genre: {}}]", "key 'klingon'", "'zh', 'en' or 'other'"),
    ("mix: {genre: {fiction: 0, nonfiction: 0}}\nsteps: [{genre: {}}]", "mix.genre", "above 0"),
    ("mix: {alpha: 3}\nsteps: [{genre: {}}]", "mix.alpha", "less than or equal to 1"),
    ("mix: {}", "mix.genre needs a 'genre' step", "add '- genre"),
]


@pytest.mark.parametrize(("args", "key", "allowed"), FLAGS)
def test_bad_flags(tmp_path, args, key, allowed):
    write_jsonl(tmp_path / "in.jsonl", [DOC])
    out = tmp_path / "out"
    args = [a.format(**{"in": tmp_path / "in.jsonl", "out": out}) for a in args]
    res = CliRunner().invoke(app, args)
    assert isinstance(res.exception, BimoError), res.output
    msg = str(res.exception)
    assert msg.startswith("flags: ") and key in msg and allowed in msg and "\n" not in msg
    assert not out.exists()  # rejected before any work


@pytest.mark.parametrize(("body", "key", "allowed"), RECIPES)
def test_bad_recipe_values(tmp_path, body, key, allowed):
    write_jsonl(tmp_path / "in.jsonl", [DOC])
    (tmp_path / "r.yaml").write_text(f"inputs: [in.jsonl]\noutput: out\n{body}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(tmp_path / "r.yaml")])
    assert isinstance(res.exception, BimoError), res.output
    msg = str(res.exception)
    assert msg.startswith(f"{tmp_path / 'r.yaml'}: ") and key in msg and allowed in msg and "\n" not in msg
    assert not (tmp_path / "out").exists()


def test_bad_setting_through_the_bimo_command_exits_2(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [DOC])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-c", "from bimo.cli import main; main()", "curate", "dedup",
                        str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o"), "--threshold", "2"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "bimo: error: flags: dedup.threshold: Input should be less than or equal to 1 (got 2.0)"]


def test_mix_that_supply_cannot_meet_is_a_one_line_error(tmp_path, tang300):
    """Only Chinese poems: the Weaver mix wants 40 % Chinese non-fiction and 20 % English."""
    write_jsonl(tmp_path / "in.jsonl", tang300[:30])
    res = CliRunner().invoke(app, ["run", "-i", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"),
                                   "--mix", "--workers", "1"])
    assert isinstance(res.exception, BimoError), res.output
    msg = str(res.exception)
    assert msg.startswith("mix: no ") and "of the output" in msg and "supply: fiction/zh 30" in msg
    assert "\n" not in msg
