"""The YAML recipe: inputs, per-document steps in order, then global dedup and mix.

```yaml
inputs: ["data/*.jsonl.gz", "books/"]
output: out/
steps:
  - normalize: {t2s: true}
  - langid: {keep: [zh, en]}
  - length: {min_len: {zh: 20, en: 50}}
  - repetition: {}
  - quality: {threshold: 0.5}
  - genre: {}
  - decontam: {eval_sets: [evals/], n: 17}
dedup: {method: minhash}
mix: {genre: {fiction: 1, nonfiction: 1}, lang: {zh: 4, en: 1}}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bimo.curate.base import DocStep
from bimo.curate.dedup import DedupConfig
from bimo.curate.mixer import MixConfig
from bimo.errors import BimoError, validation_line
from bimo.io import read_yaml_mapping


def step_registry() -> dict[str, type[DocStep]]:
    from bimo.curate.decontam import Decontaminator
    from bimo.curate.filters import (
        BadWordsFilter,
        BoilerplateFilter,
        CodeFilter,
        LengthFilter,
        RepetitionFilter,
        SymbolFilter,
    )
    from bimo.curate.langid import LanguageTagger
    from bimo.curate.normalize import Normalizer
    from bimo.curate.quality import GenreTagger, QualityFilter
    return {"normalize": Normalizer, "langid": LanguageTagger, "length": LengthFilter, "symbols": SymbolFilter,
            "repetition": RepetitionFilter, "boilerplate": BoilerplateFilter, "code": CodeFilter,
            "badwords": BadWordsFilter, "quality": QualityFilter, "genre": GenreTagger, "decontam": Decontaminator}


RULES = ["length", "symbols", "repetition", "boilerplate", "code", "badwords"]


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[str]
    output: str
    steps: list[dict[str, dict[str, Any] | None]] = []
    dedup: DedupConfig | None = None
    mix: MixConfig | None = None
    text_key: str = "text"
    id_key: str = "id"
    text_split: Literal["file", "blank_line"] = "file"
    max_doc_chars: int = Field(5_000_000, ge=1)
    split_mb: float = Field(64, ge=0)  # plain JSONL files above this size are read as several shards (0: one per file)
    compression: Literal["none", "gzip"] = "none"
    engine: Literal["local", "ray"] = "local"
    workers: int = Field(2, ge=1)
    ray_address: str | None = None

    def build_steps(self, where: str = "recipe") -> list[DocStep]:
        """Fresh step objects (each shard gets its own, so stats never mix)."""
        reg = step_registry()
        out = []
        for i, item in enumerate(self.steps):
            if len(item) != 1:
                raise BimoError(f"{where}: steps[{i}]: each step is one 'name: {{options}}' entry, got {item}")
            (name, opts), = item.items()
            if name not in reg:
                raise BimoError(f"{where}: steps[{i}]: unknown step {name!r}; known: {', '.join(reg)}")
            try:
                out.append(reg[name](**(opts or {})))
            except ValidationError as exc:
                raise BimoError(validation_line(exc, where, ("steps", name))) from None
            except (TypeError, BimoError) as exc:
                raise BimoError(f"{where}: steps.{name}: {exc}") from None
        return out

    def check_mix(self, where: str = "recipe") -> None:
        """A mix needs the labels it balances on: `genre` from a genre step (language is always known)."""
        if self.mix is None:
            return
        names = [next(iter(item)) for item in self.steps if len(item) == 1]
        if "genre" not in names and set(self.mix.genre) != {"unknown"}:
            raise BimoError(f"{where}: mix.genre needs a 'genre' step before it (no step labels documents "
                            f"with {', '.join(self.mix.genre)}); add '- genre: {{}}' to steps")


def load_recipe(path: str | Path, **overrides: Any) -> Recipe:
    path = Path(path)
    data = read_yaml_mapping(path, kind="recipe", shape="a recipe is a mapping with inputs, output, steps")
    # The recipe's own paths are relative to the recipe file; overrides (command-line options)
    # are taken as given, relative to the working directory.
    resolve_relative(data, path.parent)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate_recipe(data, str(path))


def resolve_relative(data: dict[str, Any], base: Path, output: bool = True) -> dict[str, Any]:
    """Make a recipe mapping's relative paths (inputs, output, eval sets, models) relative to `base`, in place.

    Relative paths in a recipe are relative to the recipe file; the pipeline recipe embeds a
    curation recipe and resolves it the same way.
    """
    if isinstance(data.get("inputs"), list):
        data["inputs"] = [str(base / p) if isinstance(p, str) and not Path(p).is_absolute() else p
                          for p in data["inputs"]]
    if output and isinstance(data.get("output"), str) and not Path(data["output"]).is_absolute():
        data["output"] = str(base / data["output"])
    for item in data.get("steps") or []:
        for opts in (item or {}).values() if isinstance(item, dict) else []:
            if isinstance(opts, dict):
                if isinstance(opts.get("eval_sets"), list):
                    opts["eval_sets"] = [p if Path(p).is_absolute() else str(base / p) for p in opts["eval_sets"]]
                if isinstance(opts.get("model"), str) and not Path(opts["model"]).is_absolute():
                    opts["model"] = str(base / opts["model"])
    return data


def validate_recipe(data: dict[str, Any], where: str = "recipe") -> Recipe:
    """Validate a recipe mapping and every step's options, before any work starts."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise BimoError(validation_line(exc, where)) from None
    recipe.build_steps(where)
    recipe.check_mix(where)
    return recipe
