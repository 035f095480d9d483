"""A fast text classifier: hashed character/word n-grams + multinomial logistic regression in numpy.

Idea (fastText without embeddings): every document becomes a sparse vector of
hashed features — character 1–3-grams (the natural unit for Chinese, and a cheap
stand-in for morphology in English), English word uni/bi-grams and a length bucket — weighted
log(1+count) and L2-normalised. A linear softmax model is trained with Adam on
mini-batches. Weights are stored int8-quantised, so a 2^16-feature binary model
is ~128 KB. Hashes are deterministic (no Python `hash`), so scores agree across
processes and machines.
"""

from __future__ import annotations

import io
import json
import random
import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bimo.errors import BimoError
from bimo.text import count_length

_WORD = re.compile(r"[a-z0-9']+")
_MAX_CHARS = 4000  # the head of a document is enough to judge it, and keeps scoring fast
_MULS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D], dtype=np.uint64)


def featurize(text: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse features of one text: (indices, values), values L2-normalised."""
    # NFKC first: full- and half-width punctuation and digits are one feature (sources differ in width).
    t = " ".join(unicodedata.normalize("NFKC", text[:_MAX_CHARS]).lower().split())
    cp = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    h = np.zeros(len(cp), dtype=np.uint64)
    for n in range(3):  # rolling hash of 1-, 2-, 3-grams of characters
        if len(cp) <= n:
            break
        h = h[:-1] if n else h
        h = (h * np.uint64(1_000_003) + cp[n:]) if n else cp.copy()
        parts.append((h * _MULS[n]) >> np.uint64(16))
    words = _WORD.findall(t)
    if words:
        wh = [zlib.crc32(w.encode()) for w in words]
        parts.append(np.array(wh, dtype=np.uint64) * np.uint64(0x27D4EB2F) + np.uint64(7))
        if len(wh) > 1:
            parts.append(np.array([zlib.crc32(f"{a} {b}".encode()) for a, b in zip(words, words[1:], strict=False)],
                                  dtype=np.uint64) * np.uint64(0x165667B1) + np.uint64(11))
    # Length in bimo's unit, as a log2 bucket: a two-character "好的" shares its characters with good
    # prose, and only its length tells the model it is no document.
    parts.append(np.array([zlib.crc32(f"\x00len{min(16, count_length(t).bit_length())}".encode())] * 4,
                          dtype=np.uint64))
    if len(parts) == 1 and not t:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = (np.concatenate(parts) % np.uint64(dim)).astype(np.int64)
    uniq, counts = np.unique(idx, return_counts=True)
    vals = np.log1p(counts).astype(np.float32)
    vals /= np.linalg.norm(vals)
    return uniq, vals


class TextClassifier:
    """Linear softmax over hashed n-grams. `classes[i]` names column i of the weights."""

    def __init__(self, classes: Sequence[str], dim: int = 1 << 16, weights: np.ndarray | None = None,
                 bias: np.ndarray | None = None, info: dict | None = None):
        self.classes = list(classes)
        self.dim = dim
        self.W = weights if weights is not None else np.zeros((dim, len(self.classes)), np.float32)
        self.b = bias if bias is not None else np.zeros(len(self.classes), np.float32)
        self.info = info or {}

    # -- scoring -----------------------------------------------------------------
    def predict_proba(self, text: str) -> np.ndarray:
        idx, vals = featurize(text, self.dim)
        logits = vals @ self.W[idx] + self.b
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def score(self, text: str, cls: str) -> float:
        return float(self.predict_proba(text)[self.classes.index(cls)])

    def predict(self, text: str) -> tuple[str, float]:
        p = self.predict_proba(text)
        k = int(p.argmax())
        return self.classes[k], float(p[k])

    # -- training ----------------------------------------------------------------
    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], dim: int = 1 << 16, epochs: int = 8,
              lr: float = 0.05, l2: float = 1e-6, batch: int = 256, seed: int = 0) -> TextClassifier:
        if len(texts) != len(labels) or not texts:
            raise BimoError("training needs the same non-zero number of texts and labels")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise BimoError(f"training needs at least two classes, got {classes}")
        y = np.array([classes.index(lab) for lab in labels])
        feats = [featurize(t, dim) for t in texts]
        model = cls(classes, dim)
        K = len(classes)
        # Balance classes so a 10:1 corpus does not learn "always the majority".
        cw = len(y) / (K * np.bincount(y, minlength=K))
        m = np.zeros_like(model.W)
        v = np.zeros_like(model.W)
        mb, vb = np.zeros(K, np.float32), np.zeros(K, np.float32)
        rng = np.random.default_rng(seed)
        step = 0
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for s in range(0, len(order), batch):
                rows = order[s:s + batch]
                lens = np.array([len(feats[r][0]) for r in rows])
                idx = np.concatenate([feats[r][0] for r in rows])
                val = np.concatenate([feats[r][1] for r in rows])
                row_of = np.repeat(np.arange(len(rows)), lens)
                logits = np.zeros((len(rows), K), np.float32)
                np.add.at(logits, row_of, val[:, None] * model.W[idx])
                logits += model.b
                p = np.exp(logits - logits.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                p[np.arange(len(rows)), y[rows]] -= 1
                p *= cw[y[rows]][:, None] / len(rows)
                gW = np.zeros_like(model.W)
                np.add.at(gW, idx, val[:, None] * p[row_of])
                gW += l2 * model.W
                gb = p.sum(0)
                step += 1
                for param, g, mm, vv in ((model.W, gW, m, v), (model.b, gb, mb, vb)):
                    mm *= 0.9
                    mm += 0.1 * g
                    vv *= 0.999
                    vv += 0.001 * g * g
                    param -= lr * (mm / (1 - 0.9 ** step)) / (np.sqrt(vv / (1 - 0.999 ** step)) + 1e-8)
        model.info = {"n_train": len(y), "class_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)}}
        return model

    def accuracy(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        return float(np.mean([self.predict(t)[0] == lab for t, lab in zip(texts, labels, strict=True)]))

    # -- storage -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """int8-quantised weights per class column; a few hundred KB at most."""
        scale = np.maximum(np.abs(self.W).max(0), 1e-12) / 127.0
        q = np.round(self.W / scale).astype(np.int8)
        buf = io.BytesIO()
        np.savez_compressed(buf, q=q, scale=scale.astype(np.float32), b=self.b,
                            meta=np.array(json.dumps({"classes": self.classes, "dim": self.dim, "info": self.info})))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from bimo.io import atomic_write_bytes
        atomic_write_bytes(path, buf.getvalue())
        Path(path).chmod(0o644)

    @classmethod
    def load(cls, path: str | Path) -> TextClassifier:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                W = z["q"].astype(np.float32) * z["scale"]
                return cls(meta["classes"], meta["dim"], W, z["b"].astype(np.float32), meta.get("info"))
        except FileNotFoundError:
            raise BimoError(f"classifier model not found: {path}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise BimoError(f"not a bimo classifier model: {path} ({exc})") from None


def default_model_path(name: str) -> Path:
    """Path of a shipped model ('quality' or 'genre')."""
    from importlib import resources
    return Path(str(resources.files("bimo.curate").joinpath("data", f"{name}.npz")))


def read_texts(spec: str) -> list[str]:
    """The texts of a file, folder or glob, as curation reads them (plain text split at blank lines)."""
    from bimo.curate.readers import Reader, expand_inputs

    reader = Reader()
    texts = [d["text"] for shard in expand_inputs([spec], text_split="blank_line") for d in reader.read(shard)]
    if not texts:
        raise BimoError(f"no usable documents in {spec}")
    return texts


def train_from_files(pos: str, neg: str, output: str | Path, epochs: int = 8, dim: int = 1 << 16,
                     seed: int = 0) -> float:
    """Train on POS vs NEG (10% held out for the reported accuracy) and save; returns the accuracy.

    What `bimo curate train-quality` calls."""
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
