"""Recipes: bad ones stop before any work with one line and exit code 2; shipped ones parse."""

from __future__ import annotations

import pytest
from pipeline_util import REPO, tiny_recipe, write_recipe

from bimo.errors import BimoError
from bimo.pipeline.recipe import load_pipeline_recipe


def _one_line_error(result, *needles: str) -> str:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_bad_recipes_are_one_line_errors(bimo_cli, tmp_path, tiny_llama, toy, home_env):
    def run(recipe: dict | None, name: str, *extra: str):
        path = tmp_path / f"{name}.yaml"
        if recipe is not None:
            write_recipe(path, recipe)
        return bimo_cli("pipeline", "run", str(path), "-o", str(tmp_path / f"run-{name}"), *extra, env=home_env)

    good = tiny_recipe(tiny_llama, toy)
    _one_line_error(run(None, "missing"), "recipe not found")
    _one_line_error(run({**good, "epochs": 3}, "unknown"), "epochs", "unknown setting")
    _one_line_error(run({**good, "stages": ["curate", "polish"]}, "stage"), "stages.1")
    _one_line_error(run({**good, "stages": ["synth", "curate"]}, "order"), "stages run in this order")
    _one_line_error(run({**good, "stages": ["curate", "sft"]}, "needs"), "sft needs synth")
    bad_train = {**good, "train": {**good["train"], "sft": {"lora_r": 0}}}
    _one_line_error(run(bad_train, "train"), "train (sft)", "lora_r")
    bad_bt = {**good, "synth": {**good["synth"], "backtranslate": {"taskz": ["title"]}}}
    _one_line_error(run(bad_bt, "synth"), "synth.backtranslate.taskz", "unknown setting")
    bad_step = {**good, "curate": {**good["curate"], "steps": [{"polish": {}}]}}
    _one_line_error(run(bad_step, "step"), "unknown step")
    missing_input = {**good, "curate": {**good["curate"], "inputs": [str(tmp_path / "nope.jsonl")]}}
    _one_line_error(run(missing_input, "input"), "input not found")
    _one_line_error(run({**good, "base": str(tmp_path / "no-model")}, "base"), "base model not found")
    _one_line_error(run({**good, "synth": {**good["synth"], "model": "local:nonesuch"}}, "model"), "nonesuch")
    _one_line_error(run({**good, "eval": {**good["eval"], "langs": ["zh"], "tasks": ["nope"]}}, "prompts"),
                    "no prompts match")
    (tmp_path / "run-busy").mkdir()
    (tmp_path / "run-busy" / "notes.txt").write_text("mine")
    _one_line_error(run(good, "busy"), "not empty")
    _one_line_error(run(good, "stop", "--stop-after", "polish"), "--stop-after polish")


def test_check_command_validates_without_running(bimo_cli, tmp_path, tiny_llama, toy, home_env):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_llama, toy))
    r = bimo_cli("pipeline", "check", str(path), "-o", str(tmp_path / "run"), env=home_env)
    assert r.returncode == 0, r.stderr.decode()
    assert "01-curate" in r.stdout.decode() and "06-eval" in r.stdout.decode()
    assert not (tmp_path / "run").exists()


PIPELINE_RECIPES = ["tiny.yaml", "small-lora-cpu.yaml", "weaver-7b.yaml", "longwriter-7b.yaml", "ziya-style.yaml"]


@pytest.mark.parametrize("name", PIPELINE_RECIPES)
def test_shipped_recipes_are_pipeline_and_training_recipes(name: str):
    from bimo.train.config import load_config

    path = REPO / "recipes" / name
    recipe = load_pipeline_recipe(path)
    assert recipe.stages[0] == "curate" and recipe.stages[-1] == "eval"
    for stage in ("pretrain", "sft", "dpo"):  # still valid for `bimo train STAGE --config RECIPE`
        load_config(stage, path)


def test_relative_paths_follow_the_recipe_file(tmp_path, tiny_llama, toy):
    (tmp_path / "sub").mkdir()
    recipe = tiny_recipe(tiny_llama, toy, output="runs/x")
    recipe["eval"] = {**recipe["eval"], "prompts": "prompts.jsonl"}
    r = load_pipeline_recipe(write_recipe(tmp_path / "sub" / "r.yaml", recipe))
    assert r.output == tmp_path / "sub" / "runs" / "x"
    assert r.eval.prompts == tmp_path / "sub" / "prompts.jsonl"
    with pytest.raises(BimoError, match="export.name"):
        load_pipeline_recipe(write_recipe(tmp_path / "b.yaml", {**recipe, "export": {"name": "base"}}))


def test_launch_builds_the_accelerate_command(tmp_path, tiny_llama, toy):
    """With `launch:`, a training stage is `accelerate launch ... -m bimo.train STAGE ... --config OUT/train.yaml`,
    the recipe's `train:` section as the run read it."""
    from bimo.pipeline.context import StageContext
    from bimo.pipeline.state import RunState
    from bimo.pipeline.train_export import launch_command
    from bimo.train.config import load_config

    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_llama, toy, launch={"config": "multi-gpu",
                                                                                      "num_processes": 2}))
    recipe = load_pipeline_recipe(path)
    state = RunState.open(tmp_path / "run", recipe.source, recipe.name, resume=False)
    ctx = StageContext(recipe=recipe, state=state, name="sft", dir=tmp_path / "run" / "03-sft")
    cmd = launch_command(ctx, toy["sft"], resume=True)
    i = cmd.index("-m")
    assert cmd[cmd.index("--num_processes") + 1] == "2" and cmd[cmd.index("--config_file") + 1].endswith("multi-gpu.yaml")
    assert cmd[i + 1:] == ["bimo.train", "sft", str(toy["sft"]), "--base", str(tiny_llama), "--output",
                           str(ctx.dir), "--config", str(ctx.dir / "train.yaml"), "--resume"]
    write_recipe(path, {**tiny_recipe(tiny_llama, toy), "train": {"max_steps": 99}})  # edited mid-run
    assert load_config("sft", ctx.dir / "train.yaml") == recipe.train_config("sft")  # what each process reads
    with pytest.raises(BimoError, match="accelerate config not found"):
        from bimo.pipeline.checks import check_ready

        bad = tiny_recipe(tiny_llama, toy, launch={"config": "no-such-config"}, stages=["curate", "synth", "sft"])
        check_ready(load_pipeline_recipe(write_recipe(tmp_path / "bad.yaml", bad)))


def test_fingerprints_cover_models_left_to_the_environment(tmp_path, tiny_llama, toy, monkeypatch):
    recipe = tiny_recipe(tiny_llama, toy)
    recipe["synth"] = {k: v for k, v in recipe["synth"].items() if k != "model"}
    recipe["eval"] = {k: v for k, v in recipe["eval"].items() if k != "judge"}
    r = load_pipeline_recipe(write_recipe(tmp_path / "r.yaml", recipe))
    named = load_pipeline_recipe(write_recipe(tmp_path / "n.yaml", tiny_recipe(tiny_llama, toy)))

    def prints(rec):
        return rec.fingerprint("synth"), rec.fingerprint("eval")

    monkeypatch.setenv("BIMO_MODEL", "local:tiny")
    monkeypatch.setenv("BIMO_JUDGE", "local:tiny")
    before, named_before = prints(r), prints(named)
    monkeypatch.setenv("BIMO_MODEL", "local:small")
    assert prints(r)[0] != before[0] and prints(r)[1] == before[1]  # synth's generator changed
    monkeypatch.setenv("BIMO_JUDGE", "local:small")
    assert prints(r)[1] != before[1]  # the judge changed
    assert prints(named) == named_before  # models named in the recipe: the environment does not matter


def test_training_settings_are_the_ones_read_at_the_start(tmp_path):
    """Editing the recipe during a long run changes nothing: later stages use the recipe read at the start."""
    toy = {"sft": tmp_path / "sft.jsonl", "dpo": tmp_path / "dpo.jsonl"}
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(tmp_path / "base", toy))
    recipe = load_pipeline_recipe(path)
    before = recipe.train_config("dpo"), recipe.fingerprint("dpo")
    edited = tiny_recipe(tmp_path / "base", toy)
    edited["train"]["dpo"] = {"max_steps": 50, "lora": False}
    write_recipe(path, edited)
    assert before[0].max_steps == 2 and before[0].lora
    assert (recipe.train_config("dpo"), recipe.fingerprint("dpo")) == before
    assert load_pipeline_recipe(path).train_config("dpo").max_steps == 50  # a new run reads the edit


def test_baseline_and_judge_default_to_the_base_and_the_environment(tmp_path, monkeypatch):
    toy = {"sft": tmp_path / "sft.jsonl", "dpo": tmp_path / "dpo.jsonl"}
    recipe = tiny_recipe(tmp_path / "base", toy)
    recipe["eval"] = {k: v for k, v in recipe["eval"].items() if k != "judge"}
    monkeypatch.setenv("BIMO_JUDGE", "local:small")
    r = load_pipeline_recipe(write_recipe(tmp_path / "r.yaml", recipe))
    assert (r.baseline_uri, r.judge_uri) == (f"hf:{tmp_path / 'base'}", "local:small")
    r = load_pipeline_recipe(write_recipe(tmp_path / "g.yaml", {**recipe, "base": "small"}))
    assert r.baseline_uri == "local:small"


def test_a_stage_not_run_never_checks_its_section():
    """The backward stage's training section is built only for the backward stage's fingerprint."""
    from bimo.pipeline.recipe import PipelineRecipe

    rec = PipelineRecipe(name="x", base="small", backward={"train": {"lr_typo": 1}})
    assert rec.fingerprint("synth") and rec.fingerprint("eval")
    with pytest.raises(BimoError, match="backward.train"):
        rec.fingerprint("backward")
