"""Training a quality model from two example sets (what `train-quality` calls)."""

from __future__ import annotations

import random
from pathlib import Path

from bimo.curate.classifier import TextClassifier
from bimo.curate.readers import Reader, expand_inputs
from bimo.errors import BimoError


def read_texts(spec: str) -> list[str]:
    reader = Reader()
    texts = [d["text"] for shard in expand_inputs([spec], text_split="blank_line") for d in reader.read(shard)]
    if not texts:
        raise BimoError(f"no usable documents in {spec}")
    return texts


def train_from_files(pos: str, neg: str, output: str | Path, epochs: int = 8, dim: int = 1 << 16,
                     seed: int = 0) -> float:
    """Train on POS vs NEG (10% held out for the reported accuracy) and save; returns the accuracy."""
    p, n = read_texts(pos), read_texts(neg)
    data = [(t, "pos") for t in p] + [(t, "neg") for t in n]
    random.Random(seed).shuffle(data)
    cut = len(data) // 10 if len(data) >= 20 else 0
    test, train = data[:cut], data[cut:]
    model = TextClassifier.train([t for t, _ in train], [y for _, y in train], dim=dim, epochs=epochs, seed=seed)
    acc = model.accuracy([t for t, _ in test], [y for _, y in test]) if test else model.accuracy(
        [t for t, _ in train], [y for _, y in train])
    model.info.update({"pos": str(pos), "neg": str(neg), "holdout_accuracy": acc})
    model.save(output)
    return acc
