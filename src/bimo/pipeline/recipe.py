"""The pipeline recipe: one YAML file for a whole run, checked completely before any work starts.

```yaml
name: tiny-writer              # the exported model is registered as local:NAME
base: small                    # training base: registry name, .gguf, HF folder (paths: relative to this file)
stages: [curate, synth, sft, dpo, export, eval]   # the default; `pretrain` can be added after synth
curate: {inputs: [...], steps: [...], dedup: {...}, mix: {...}}   # a `bimo curate` recipe without `output`
synth: {model: local:small, docs: 12, backtranslate: {...}, constitution: {...}}
backward: {base: small, docs: 12, train: {lora: true, sft: {max_steps: 20}}}   # with the `backward` stage
train: {lora: true, sft: {max_steps: 4}, dpo: {max_steps: 2}}      # exactly `bimo train --config`
export: {quant: q8_0}
eval: {prompts: ../benchmarks/prompts/bimo_bench.jsonl, limit: 8, judge: local:default}
```

The `train:` section is read by the same loader as `bimo train STAGE --config RECIPE`, so a
pipeline recipe is also a training config. Unknown keys anywhere are errors; every error
is one line naming the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from bimo.errors import BimoError, validation_line
from bimo.io import read_yaml_mapping
from bimo.llm.uri import ModelURI, is_path_spec
from bimo.synth.backtranslate import BacktranslateConfig
from bimo.synth.constitution import ConstitutionConfig
from bimo.synth.longdoc import LongDocConfig

StageName = Literal["curate", "synth", "backward", "pretrain", "sft", "dpo", "export", "eval"]
#: Every stage, in the only order they can run.
STAGES: tuple[str, ...] = ("curate", "synth", "backward", "pretrain", "sft", "dpo", "export", "eval")
DEFAULT_STAGES = ["curate", "synth", "sft", "dpo", "export", "eval"]
TRAIN_STAGES = ("pretrain", "sft", "dpo")
#: A stage needs at least one of these earlier in the list.
NEEDS: dict[str, tuple[str, ...]] = {"synth": ("curate",), "backward": ("synth",), "pretrain": ("curate",),
                                     "sft": ("synth",),
                                     "dpo": ("synth",), "export": TRAIN_STAGES, "eval": ("export",)}
BASELINE_NAME = "base"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BacktranslateSettings(_Strict, BacktranslateConfig):
    """`bimo synth backtranslate` settings, with unknown keys rejected."""


class ConstitutionSettings(_Strict, ConstitutionConfig):
    """`bimo synth constitution` settings, with unknown keys rejected."""


class LongDocSettings(_Strict, LongDocConfig):
    """`bimo synth longdoc` settings, with unknown keys rejected."""


class SynthSection(_Strict):
    """Training data from the curated corpus: backtranslated SFT pairs, then constitutional DPO
    pairs (`method: backtranslate`), or long-output SFT whose responses are the long human
    documents themselves (`method: longdoc`, LongWriter × Weaver)."""

    method: Literal["backtranslate", "longdoc"] = "backtranslate"
    model: str | None = Field(None, description="generator URI (default: bimo.llm.default_uri())")
    docs: int | None = Field(None, ge=1, description="documents sampled from the curated corpus (default: all)")
    seed: int = Field(0, description="which documents are sampled")
    concurrency: int | None = Field(None, ge=1)
    retries: int = Field(1, ge=0)
    backtranslate: BacktranslateSettings = Field(default_factory=BacktranslateSettings)
    constitution: ConstitutionSettings = Field(default_factory=ConstitutionSettings)
    longdoc: LongDocSettings = Field(default_factory=LongDocSettings)
    extra_sft: list[Path] = Field(default_factory=list, description="existing SFT files mixed into the SFT data")
    extra_pairs: list[Path] = Field(default_factory=list, description="existing preference files mixed into DPO")
    min_sft: int = Field(1, ge=1, description="fewer SFT records than this stops the run")
    min_pairs: int = Field(1, ge=1, description="fewer preference pairs than this stops the run (with dpo)")
    calibration: Path | None = Field(None, description="the self-curation scorer's calibration.json (bimo eval "
                                                       "calibrate), reported with the synthesis figures")
    calibration_any_settings: bool = Field(False, description="use a calibration made with other judge settings "
                                                              "(a pairwise one always differs from the scorer's rubric)")


class BackwardSection(_Strict):
    """Ziya's backward model (the `backward` stage): trained on the synth stage's accepted pairs
    reversed, then the instruction generator of backtranslation on documents synth did not use;
    the pairs it gives are added to the SFT data."""

    base: str = Field("small", min_length=1, description="base of the backward model (registry name, .gguf, HF folder)")
    train: dict[str, Any] = Field(default_factory=lambda: {"lora": True},
                                  description="its `bimo train sft` config (as `train:`; data, base, output are filled in)")
    quant: Literal["f32", "f16", "bf16", "q8_0", "auto"] = "q8_0"
    docs: int | None = Field(None, ge=1, description="new documents backtranslated with it (default: all unused ones)")
    seed: int = Field(0, description="which new documents are sampled")
    backtranslate: BacktranslateSettings = Field(default_factory=BacktranslateSettings,
                                                 description="checks and self-curation (the generator is the trained model)")
    min_pairs: int = Field(1, ge=1, description="fewer reversed pairs than this stops the run")
    min_sft: int = Field(1, ge=0, description="fewer pairs kept from its requests than this stops the run")


class LaunchSection(_Strict):
    """Run the training stages under `accelerate launch` (multi-GPU, DeepSpeed, FSDP), as `bimo train launch` does."""

    config: str = Field(min_length=1, description="accelerate config: a shipped name (deepspeed-zero3, ...) or a path")
    num_processes: int | None = Field(None, ge=1)


class ExportSection(_Strict):
    """GGUF export of the last trained model, registered in the model registry by default."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="default: the recipe name")
    quant: Literal["f32", "f16", "bf16", "q8_0", "auto"] = "q8_0"
    # `register` in YAML (the attribute name would shadow pydantic's BaseModel.register)
    register_model: bool = Field(True, alias="register",
                                 description="register as local:NAME (else gguf:PATH in the run folder)")


class EvalSection(_Strict):
    """Base model vs the exported model on a slice of a prompt file, judged side by side."""

    prompts: Path | None = None
    tasks: list[str] = Field(default_factory=lambda: ["write", "outline", "brainstorm", "chat"])
    langs: list[Literal["zh", "en"]] = Field(default_factory=lambda: ["zh", "en"])
    limit: int = Field(8, ge=1, description="prompts answered by each model")
    longform: bool = Field(False, description="also prompts with a length target (written by the long-form writer)")
    single_pass: bool = Field(False, description="answer every prompt in one call, length targets too (no plan)")
    max_tokens: int = Field(256, ge=16, description="answer length limit")
    seed: int = 1
    baseline: str | None = Field(None, description="URI of the model compared against (default: the train base)")
    judge: str | None = Field(None, description="judge URI (default: $BIMO_JUDGE or local:default)")
    judge_max_tokens: int = Field(512, ge=16)
    judge_retries: int = Field(2, ge=0)
    calibration: Path | None = Field(None, description="the judge's calibration.json (bimo eval calibrate), printed beside the win rate")
    rounds: int = Field(1000, ge=10, description="bootstrap rounds for the win-rate interval")


class PipelineRecipe(_Strict):
    """A whole run: the stages to run and one section of settings per stage."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    base: str = Field(min_length=1)
    output: Path | None = None
    stages: list[StageName] = Field(default_factory=lambda: list(DEFAULT_STAGES))
    curate: dict[str, Any] | None = None
    synth: SynthSection = Field(default_factory=SynthSection)
    backward: BackwardSection = Field(default_factory=BackwardSection)
    train: dict[str, Any] = Field(default_factory=dict)
    launch: LaunchSection | None = None
    export: ExportSection = Field(default_factory=ExportSection)
    eval: EvalSection = Field(default_factory=EvalSection)

    _source: Path = PrivateAttr(default=Path("recipe.yaml"))

    @property
    def source(self) -> Path:
        """The recipe file (its folder anchors relative paths; `bimo train` reads its `train:` part)."""
        return self._source

    @property
    def export_name(self) -> str:
        return self.export.name or self.name

    @property
    def baseline_uri(self) -> str:
        """The model the trained one is compared with: eval.baseline, else the training base as a URI."""
        return self.eval.baseline or str(ModelURI.from_spec(self.base))

    @property
    def judge_uri(self) -> str:
        """eval.judge, else the judge the environment names ($BIMO_JUDGE, else local:default)."""
        from bimo.evaluate.judge_step import default_judge

        return self.eval.judge or default_judge()

    def curate_recipe(self, output: Path):
        """The embedded `bimo curate` recipe, writing to `output`."""
        from bimo.curate.recipe import resolve_relative, validate_recipe

        data = json.loads(json.dumps(self.curate or {}))
        resolve_relative(data, self.source.parent, output=False)
        data["output"] = str(output)
        return validate_recipe(data, f"{self.source}: curate")

    def train_config(self, stage: str, **values: Any):
        """The `bimo train` config of one stage, as `bimo train STAGE --config RECIPE` builds it, from
        the `train:` section read with the rest of the recipe (an edit of the file mid-run changes nothing)."""
        from bimo.train.config import build_config

        try:
            return build_config(stage, {"train": self.train}, values)
        except BimoError as exc:
            raise BimoError(f"{self.source}: train ({stage}): {exc}") from None

    def backward_train_config(self, **values: Any):
        """The backward model's `bimo train sft` config: the `backward.train` section, its base."""
        from bimo.train.config import build_config

        try:
            return build_config("sft", {"train": self.backward.train}, {"base": self.backward.base, **values})
        except BimoError as exc:
            raise BimoError(f"{self.source}: backward.train: {exc}") from None

    def fingerprint(self, stage: str) -> str:
        """A hash of the settings one stage's output depends on (its own section)."""
        part: Any = {
            "curate": self.curate, "synth": self.synth.model_dump(mode="json"),
            "export": [self.export.model_dump(mode="json"), self.export_name],
            "eval": self.eval.model_dump(mode="json"),
        }.get(stage)
        if stage == "backward":  # built only here: a stage not in the run never checks its section
            part = [self.backward.model_dump(mode="json"), self.backward_train_config().model_dump(mode="json")]
        if stage in TRAIN_STAGES:
            part = [self.base, self.train_config(stage).model_dump(mode="json")]
        defaulted = self.defaulted_models(stage)
        if defaulted:  # models the section leaves to the environment count too
            part = [part, {"resolved": defaulted}]
        blob = json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def defaulted_models(self, stage: str) -> dict[str, str]:
        """Model URIs a stage uses that its section does not name ($BIMO_MODEL, $BIMO_JUDGE,
        the train base), resolved now: changing one of them changes the stage's output."""
        from bimo.llm import default_uri

        if stage in ("synth", "backward") and not self.synth.model:
            return {"model": default_uri()}
        if stage == "eval":
            out = {"judge": self.judge_uri} if not self.eval.judge else {}
            return out | ({"baseline": self.baseline_uri} if not self.eval.baseline else {})
        return {}


def load_pipeline_recipe(path: str | Path) -> PipelineRecipe:
    """Read, validate and resolve a recipe; one-line BimoError for anything wrong in it."""
    path = Path(path)
    data = read_yaml_mapping(path, kind="recipe",
                             shape="a pipeline recipe is a mapping (name, base, stages, curate, synth, train, ...)")
    try:
        recipe = PipelineRecipe.model_validate(data)
    except ValidationError as exc:
        raise BimoError(validation_line(exc, str(path))) from None
    recipe._source = path.resolve()
    _resolve_paths(recipe, path.resolve().parent)
    _check_stages(recipe)
    if "curate" in recipe.stages:
        if not recipe.curate:
            raise BimoError(f"{path}: the curate stage needs a `curate:` section (inputs, steps, ...)")
        recipe.curate_recipe(Path("/nonexistent")).build_steps()  # the section, its steps and their options
    for stage in TRAIN_STAGES:
        if stage in recipe.stages:
            recipe.train_config(stage)
    if "backward" in recipe.stages:
        _check_backward(recipe)
    if "synth" in recipe.stages:
        from bimo.synth.backtranslate import task_table

        unknown = [t for t in recipe.synth.backtranslate.tasks if t not in task_table()["tasks"]]
        if unknown:
            raise BimoError(f"{path}: synth.backtranslate.tasks: unknown task {unknown[0]!r}; "
                            f"known: {', '.join(task_table()['tasks'])}")
    if ("synth" in recipe.stages and recipe.synth.method == "longdoc" and "dpo" in recipe.stages
            and not recipe.synth.extra_pairs):
        raise BimoError(f"{path}: synth.method longdoc makes SFT records only; the dpo stage needs "
                        "synth.extra_pairs or method backtranslate")
    if "eval" in recipe.stages and recipe.eval.prompts is None:
        raise BimoError(f"{path}: eval.prompts: the eval stage needs a prompt file")
    if recipe.export_name == BASELINE_NAME:
        raise BimoError(f"{path}: export.name: {BASELINE_NAME!r} is the baseline's name in the comparison; pick another")
    return recipe


def _check_backward(recipe: PipelineRecipe) -> None:
    where = f"{recipe.source}: backward"
    if recipe.synth.method != "backtranslate":
        raise BimoError(f"{where}: the backward stage learns from backtranslated pairs; synth.method is "
                        f"{recipe.synth.method!r}")
    from bimo.synth.backtranslate import check_prompted_only

    if recipe.backward.backtranslate.generator != "prompted":
        raise BimoError(f"{where}.backtranslate.generator: the stage's generator is the model it trains; leave it out")
    check_prompted_only("the trained backward model", recipe.backward.backtranslate.model_fields_set,
                        prefix=f"{where}.backtranslate")
    if recipe.synth.backtranslate.generator != "prompted":
        raise BimoError(f"{recipe.source}: synth.backtranslate.generator: the backward stage learns from the "
                        "prompted generator's pairs; leave it out")
    recipe.backward_train_config()


def _check_stages(recipe: PipelineRecipe) -> None:
    where = f"{recipe.source}: stages"
    if not recipe.stages:
        raise BimoError(f"{where}: empty; name at least one of {', '.join(STAGES)}")
    if len(set(recipe.stages)) != len(recipe.stages):
        raise BimoError(f"{where}: a stage is listed twice")
    if recipe.stages != sorted(recipe.stages, key=STAGES.index):
        raise BimoError(f"{where}: stages run in this order: {', '.join(STAGES)}")
    for stage in recipe.stages:
        need = NEEDS.get(stage, ())
        if need and not any(n in recipe.stages for n in need):
            raise BimoError(f"{where}: {stage} needs {' or '.join(need)} before it")


def _resolve(base: Path, spec: str) -> str:
    """`spec` with a relative path part made relative to `base` (URIs other than gguf:/hf: untouched)."""
    uri = ModelURI.known(spec)
    if uri is not None:
        return f"{uri.scheme}:{_resolve(base, uri.path)}" if uri.scheme in ("gguf", "hf") else spec
    if not is_path_spec(spec):
        return spec
    p = Path(spec).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_paths(recipe: PipelineRecipe, base: Path) -> None:
    def rel(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    recipe.base = _resolve(base, recipe.base)
    recipe.output = rel(recipe.output) if recipe.output is not None else None
    s = recipe.synth
    s.extra_sft = [rel(p) for p in s.extra_sft]
    s.extra_pairs = [rel(p) for p in s.extra_pairs]
    s.calibration = rel(s.calibration) if s.calibration is not None else None
    if s.constitution.principles_dir is not None:
        s.constitution.principles_dir = rel(s.constitution.principles_dir)
    s.model = _resolve(base, s.model) if s.model else None
    if s.backtranslate.generator != "prompted":
        s.backtranslate.generator = _resolve(base, s.backtranslate.generator)
    recipe.backward.base = _resolve(base, recipe.backward.base)
    if recipe.launch is not None and is_path_spec(recipe.launch.config):
        recipe.launch.config = _resolve(base, recipe.launch.config)
    e = recipe.eval
    e.prompts = rel(e.prompts) if e.prompts is not None else None
    e.baseline = _resolve(base, e.baseline) if e.baseline else None
    e.judge = _resolve(base, e.judge) if e.judge else None
    e.calibration = rel(e.calibration) if e.calibration is not None else None
