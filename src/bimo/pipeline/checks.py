"""Cheap checks of everything a recipe points at, run before the first stage starts.

Input files, the training base, every model URI (registry models must be pulled), extra
data files and the evaluation prompts: a typo should cost a second, not an hour of
synthesis followed by a crash in the training stage.
"""

from __future__ import annotations

from pathlib import Path

from bimo.errors import BimoError
from bimo.llm.uri import ModelURI, is_path_spec
from bimo.pipeline.recipe import TRAIN_STAGES, PipelineRecipe


def check_ready(recipe: PipelineRecipe) -> None:
    """Raise a one-line BimoError for the first thing the run could not find."""
    stages = recipe.stages
    if "curate" in stages:
        from bimo.curate.readers import expand_inputs

        cur = recipe.curate_recipe(Path("/nonexistent"))
        expand_inputs(cur.inputs, cur.text_split)
    if any(s in stages for s in (*TRAIN_STAGES, "export", "backward")):
        from bimo.extras import require

        require("train", "the training and export stages")
    if any(s in stages for s in TRAIN_STAGES):
        check_base(recipe.base)
        if recipe.launch is not None:
            from bimo.train.launch import find_config, load_accelerate_config

            load_accelerate_config(find_config(recipe.launch.config))
    if "synth" in stages:
        from bimo.llm import default_uri

        check_uri(recipe.synth.model or default_uri(), "synth.model")
        if recipe.synth.backtranslate.backward:
            check_uri(recipe.synth.backtranslate.generator, "synth.backtranslate.generator")
        for p in [*recipe.synth.extra_sft, *recipe.synth.extra_pairs]:
            _need_file(p, "synth extra data")
        if recipe.synth.constitution.principles_dir is not None and not recipe.synth.constitution.principles_dir.is_dir():
            raise BimoError(f"principles folder not found: {recipe.synth.constitution.principles_dir}")
    if "backward" in stages:
        check_base(recipe.backward.base)
    if "eval" in stages:
        from bimo.pipeline.evaluation import select_prompts

        assert recipe.eval.prompts is not None
        _need_file(recipe.eval.prompts, "eval prompts")
        if not select_prompts(recipe.eval):
            raise BimoError(f"{recipe.eval.prompts}: no prompts match eval.tasks {recipe.eval.tasks} and "
                            f"eval.langs {recipe.eval.langs} (prompts with an input text or a length are skipped)")
        check_uri(recipe.judge_uri, "eval.judge")
        check_uri(recipe.baseline_uri, "eval.baseline")


def check_base(spec: str) -> None:
    """The training base exists: a pulled registry model, a .gguf file or a checkpoint folder."""
    uri = ModelURI.known(spec)
    if uri is not None and uri.is_local:
        spec = uri.path
    if is_path_spec(spec):
        p = Path(spec)
        if not p.exists():
            raise BimoError(f"base model not found: {p}")
        if p.is_dir() and not ((p / "config.json").exists() or (p / "bimo_run.json").exists()):
            raise BimoError(f"base model {p} is neither an HF checkpoint (config.json) nor a bimo training run")
        return
    from bimo.llm import registry

    registry.resolve_path(spec)  # unknown or not pulled: one line with the pull command


def check_uri(uri: str, what: str) -> None:
    """A model URI that can be opened: known scheme, pulled registry model, existing file."""
    parsed = ModelURI.parse(uri, what)
    scheme, rest = parsed.scheme, parsed.path
    if scheme == "local":
        from bimo.llm import registry

        registry.resolve_path(rest)
    elif scheme == "gguf":
        _need_file(Path(rest), what)
    elif scheme == "hf":
        if not (Path(rest) / "config.json").exists():
            raise BimoError(f"{what}: no transformers checkpoint (config.json) in {rest}")
    elif scheme != "openai":
        parsed.plugin(what)


def _need_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise BimoError(f"{what}: file not found: {path}")
