"""Quality and genre models: the shipped defaults on real text, and `train-quality`."""


from curate_util import DATA, read_jsonl, write_jsonl
from typer.testing import CliRunner

from bimo.curate import corpora
from bimo.curate.classifier import TextClassifier, default_model_path
from bimo.curate.cli import app
from bimo.curate.quality import GenreTagger, QualityFilter


def test_shipped_models_are_small():
    for name in ("quality", "genre"):
        assert default_model_path(name).stat().st_size < 1_000_000  # a few hundred KB each, under 1 MB


def test_default_quality_separates_literature_from_ui_strings(tang300, brown):
    q = QualityFilter(threshold=0.5)
    good = [{"id": d["id"], "text": d["text"], "metadata": {}} for d in tang300[:60] + brown[:20]]
    assert sum(q.process(d) is None for d in good) / len(good) >= 0.9
    assert all(0 <= d["metadata"]["quality"] <= 1 for d in good)
    bad = [{"id": d["id"], "text": d["text"], "metadata": {}} for d in read_jsonl(DATA / "ui_strings_zh.jsonl")]
    assert len(bad) == 40
    assert sum(q.process(d) is not None for d in bad) / len(bad) >= 0.8


def test_genre_tags_poetry_and_brown(tang300, brown):
    g = GenreTagger()
    poems = [{"id": d["id"], "text": d["text"], "metadata": {}} for d in tang300[:50]]
    for d in poems:
        g.process(d)
    assert sum(d["metadata"]["genre"] == "fiction" for d in poems) >= 45  # poetry folds into fiction
    right = 0
    for d in brown:
        doc = {"id": d["id"], "text": d["text"], "metadata": {}}
        g.process(doc)
        truth = "fiction" if d["metadata"]["brown_genre"] in corpora.BROWN_FICTION else "nonfiction"
        right += doc["metadata"]["genre"] == truth
    assert right / len(brown) >= 0.75


def test_train_quality_cli(tmp_path, tang300, brown):
    pos = write_jsonl(tmp_path / "pos.jsonl", tang300[:120])
    neg_docs = [{"id": f"n{i}", "text": " ".join(d["text"].split()[::-1])} for i, d in enumerate(brown)]
    neg_docs += [{"id": f"s{i}", "text": "".join(sorted(d["text"]))} for i, d in enumerate(tang300[150:230])]
    neg = write_jsonl(tmp_path / "neg.jsonl", neg_docs)
    model = tmp_path / "q.npz"
    res = CliRunner().invoke(app, ["train-quality", str(pos), str(neg), "-o", str(model), "--epochs", "5"])
    assert res.exit_code == 0, res.output
    m = TextClassifier.load(model)
    assert m.score(tang300[250]["text"], "pos") > m.score("".join(sorted(tang300[250]["text"])), "pos")
    assert (DATA / "tang300.jsonl").exists()
