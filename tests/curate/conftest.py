import pytest
from curate_util import DATA, read_jsonl


@pytest.fixture
def tang300():
    return read_jsonl(DATA / "tang300.jsonl")


@pytest.fixture
def brown():
    return read_jsonl(DATA / "brown_sample.jsonl")


@pytest.fixture
def editions():
    return read_jsonl(DATA / "tang_two_editions.jsonl")
