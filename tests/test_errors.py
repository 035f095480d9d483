"""The first validation error of any config, as one line."""

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bimo.errors import validation_line


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(0.5, le=1)
    names: dict[str, int] = {}
    langs: dict[Literal["zh", "en"], int] = {}


def _line(**data) -> str:
    with pytest.raises(ValidationError) as exc:
        _Cfg(**data)
    return validation_line(exc.value, "r.yaml", ("train",))


def test_validation_line():
    assert _line(rate=2) == "r.yaml: train.rate: Input should be less than or equal to 1 (got 2)"
    assert _line(rat=1) == "r.yaml: train.rat: unknown setting"
    assert _line(names={"a": "x"}).startswith("r.yaml: train.names.a: Input should be a valid integer")
    assert _line(langs={"fr": 1}) == "r.yaml: train.langs: key 'fr': Input should be 'zh' or 'en'"
