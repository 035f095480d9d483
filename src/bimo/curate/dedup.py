"""Exact and near-duplicate removal over the whole corpus, streaming and on disk.

Three phases, so that memory stays bounded and shards run in parallel:

1. `Sketcher` (per shard, parallel): for every kept document, an exact key
   (hash of whitespace-folded text) and LSH keys — MinHash (one-permutation, K =
   bands × rows bins) cut into bands, or SimHash with bit-sampling tables (each
   table keys on 12 fixed random bits, so hashes within Hamming distance 10 —
   typical for 3–8% edits — meet in some table with high probability).
   Keys go to `.npy` files beside the shard; nothing global is held in RAM.
2. `DuplicateIndex` (global, one pass per key column): sort each column
   (memory-mapped, one column at a time), pair each document with up to
   `window` earlier documents in the same bucket, then verify candidates in
   corpus order with their *real* similarity, texts re-read by byte offset:
   normalised Levenshtein similarity (rapidfuzz, bit-parallel C; default ≥ 0.8)
   or the exact Jaccard of the shingle sets (≥ 0.5). Verification is what keeps
   precision high while the LSH is set loose for recall. A document is a duplicate only of a document that
   was kept, so `metadata.duplicate_of` always names a kept original that really
   is similar — chains A≈B≈C never remove C for a weak resemblance to A.
3. `DedupFilter` (per shard, parallel): drops the decided duplicates with
   `metadata.duplicate_of`, `metadata.duplicate_similarity` and the reason.

Defaults (3-character / 3-word shingles, 32 bands × 3 rows, edit similarity ≥ 0.8) are
tuned so copies with up to ~10% of characters or words edited are caught: an
edit touches n shingles, so 8% edits with n=3 leave Jaccard ≈ 0.6, where the
S-curve 1-(1-J³)³² is already 0.999 (with 5-grams it would be ≈0.4 and need many
more bands).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from bimo.curate.base import Doc, Step
from bimo.curate.shingles import band_keys, jaccard, minhash_oph, shingle_hashes, simhash
from bimo.errors import BimoError


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exact: bool = True
    method: Literal["minhash", "simhash", "none"] = "minhash"
    zh_ngram: int = 3
    en_ngram: int = 3
    bands: int = 32
    rows: int = 3
    verify: Literal["edit", "jaccard"] = "edit"
    threshold: float | None = None  # default: edit similarity 0.8, or Jaccard 0.5
    simhash_ngram: int = 1  # bag of characters / words: the most edit-stable SimHash input
    simhash_max_distance: int = 10
    simhash_tables: int = 32
    simhash_bits: int = 12
    window: int = 2
    batch_chars: int = 2_000_000


def exact_key(text: str) -> int:
    """64-bit key of the text with whitespace folded; equal keys are confirmed on the texts."""
    h = hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "little")


def simhash_masks(cfg: DedupConfig) -> list[np.uint64]:
    """Fixed random bit masks, one per table (seeded: every shard and run agrees)."""
    rng = np.random.default_rng(12345)
    return [np.uint64(sum(1 << int(b) for b in rng.choice(64, cfg.simhash_bits, replace=False)))
            for _ in range(cfg.simhash_tables)]


class Sketcher:
    """Collects per-document keys for one shard and saves them beside it."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.exact: list[np.ndarray] = []
        self._exact: list[int] = []
        self.keys: list[np.ndarray] = []
        self._texts: list[str] = []
        self._langs: list[str] = []
        self._chars = 0

    def add(self, doc: Doc) -> None:
        self._exact.append(exact_key(doc["text"]))
        self._texts.append(doc["text"])
        self._langs.append(doc.get("metadata", {}).get("lang"))
        self._chars += len(doc["text"])
        if self._chars >= self.cfg.batch_chars:
            self._flush()

    def _flush(self) -> None:
        if not self._texts:
            return
        c = self.cfg
        self.exact.append(np.array(self._exact, dtype=np.uint64))
        self._exact = []
        n = len(self._texts)
        if c.method == "minhash":
            h, d = shingle_hashes(self._texts, self._langs, c.zh_ngram, c.en_ngram)
            self.keys.append(band_keys(minhash_oph(h, d, n, c.bands * c.rows), c.bands, c.rows))
        elif c.method == "simhash":
            h, d = shingle_hashes(self._texts, self._langs, c.simhash_ngram, c.simhash_ngram)
            sh = simhash(h, d, n)
            # Table keys (bit samples) for bucketing, then the full hash for the Hamming check.
            tables = [(sh & m) ^ np.uint64(t) for t, m in enumerate(simhash_masks(c))]
            self.keys.append(np.stack(tables + [sh], axis=1))
        self._texts, self._langs, self._chars = [], [], 0

    def save(self, prefix: Path) -> None:
        self._flush()
        np.save(f"{prefix}.exact.npy", np.concatenate(self.exact) if self.exact else np.zeros(0, np.uint64))
        width = {"minhash": self.cfg.bands, "simhash": self.cfg.simhash_tables + 1, "none": 0}[self.cfg.method]
        n = sum(len(e) for e in self.exact)
        keys = np.concatenate(self.keys) if self.keys else np.zeros((n, width), np.uint64)
        np.save(f"{prefix}.lsh.npy", keys.astype(np.uint64))


@dataclass
class ShardFiles:
    """One stage-A shard: its docs file, byte offsets and key files (via prefix)."""

    prefix: Path
    n: int

    @property
    def docs(self) -> Path:
        return Path(f"{self.prefix}.jsonl")


class DuplicateIndex:
    """Global candidate generation and verification; see the module docstring."""

    def __init__(self, cfg: DedupConfig, shards: list[ShardFiles]):
        self.cfg = cfg
        self.shards = shards
        self.starts = np.cumsum([0] + [s.n for s in shards])
        self.n = int(self.starts[-1])
        self._offsets = [np.load(f"{s.prefix}.off.npy", mmap_mode="r") for s in shards]
        self._fh: dict[int, object] = {}
        self._cache: OrderedDict[int, tuple[str, str, np.ndarray]] = OrderedDict()
        self._cached_chars = 0
        self.threshold = cfg.threshold if cfg.threshold is not None else (0.8 if cfg.verify == "edit" else 0.5)
        if cfg.verify == "edit":
            try:
                from rapidfuzz.distance import Levenshtein
            except ImportError:
                raise BimoError("dedup verification by edit similarity needs rapidfuzz: "
                                "pip install rapidfuzz==3.14.6 (or set dedup.verify: jaccard)") from None
            self._lev = Levenshtein.normalized_similarity

    def _column(self, kind: str, col: int | None) -> np.ndarray:
        parts = []
        for s in self.shards:
            a = np.load(f"{s.prefix}.{kind}.npy", mmap_mode="r")
            parts.append(np.asarray(a if col is None else a[:, col]))
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)

    @staticmethod
    def _pairs(col: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """(later, earlier) pairs of documents sharing a key, up to `window` back in the bucket."""
        order = np.argsort(col, kind="stable")
        sk = col[order]
        js, is_ = [], []
        for w in range(1, window + 1):
            same = np.nonzero(sk[w:] == sk[:-w])[0]
            js.append(order[same + w])
            is_.append(order[same])
        return np.concatenate(js), np.concatenate(is_)

    def candidates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted unique (later, earlier, is_exact) candidate pairs."""
        c = self.cfg
        js, is_, ex = [], [], []
        if c.exact:
            j, i = self._pairs(self._column("exact", None), 1)
            js.append(j), is_.append(i), ex.append(np.ones(len(j), bool))
        if c.method == "minhash":
            for b in range(c.bands):
                j, i = self._pairs(self._column("lsh", b), c.window)
                js.append(j), is_.append(i), ex.append(np.zeros(len(j), bool))
        elif c.method == "simhash":
            full = self._column("lsh", c.simhash_tables)
            for b in range(c.simhash_tables):
                j, i = self._pairs(self._column("lsh", b), max(c.window, 16))
                x = full[j] ^ full[i]
                ok = np.bitwise_count(x) <= c.simhash_max_distance
                js.append(j[ok]), is_.append(i[ok]), ex.append(np.zeros(int(ok.sum()), bool))
        if not js:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
        j, i, e = np.concatenate(js), np.concatenate(is_), np.concatenate(ex)
        if len(j) == 0:
            return j.astype(np.int64), i.astype(np.int64), e
        key = j.astype(np.int64) * self.n + i
        order = np.lexsort((~e, key))  # exact pairs first among equal keys
        key, e = key[order], e[order]
        first = np.r_[True, key[1:] != key[:-1]]
        key, e = key[first], e[first]
        return key // self.n, key % self.n, e

    # -- reading documents back for verification ---------------------------------------
    def similarity(self, a: int, b: int) -> float:
        _, ta, ha = self._doc(a)
        _, tb, hb = self._doc(b)
        if self.cfg.verify == "jaccard":
            return jaccard(ha, hb)
        # score_cutoff lets rapidfuzz stop early (banded): ~2x faster, 0.0 below the threshold
        return float(self._lev(ta, tb, score_cutoff=self.threshold))

    def _doc(self, g: int) -> tuple[str, str, np.ndarray]:
        if g in self._cache:
            self._cache.move_to_end(g)
            return self._cache[g]
        s = int(np.searchsorted(self.starts, g, side="right") - 1)
        fh = self._fh.get(s)
        if fh is None:
            fh = self._fh[s] = open(self.shards[s].docs, "rb")
        fh.seek(int(self._offsets[s][g - self.starts[s]]))
        doc = json.loads(fh.readline())
        h = np.zeros(0, np.uint64)
        if self.cfg.verify == "jaccard":
            h, _ = shingle_hashes([doc["text"]], [doc.get("metadata", {}).get("lang")], self.cfg.zh_ngram,
                                  self.cfg.en_ngram)
            h = np.unique(h)
        val = (str(doc["id"]), doc["text"], h)
        self._cache[g] = val
        self._cached_chars += len(doc["text"])
        # Bounded by characters, not entries: a few huge documents must not fill RAM.
        while len(self._cache) > 1 and (len(self._cache) > 8192 or self._cached_chars > 32_000_000):
            self._cached_chars -= len(self._cache.popitem(last=False)[1][1])
        return val

    def decide(self) -> dict[int, tuple[str, float, str]]:
        """{global index of a duplicate: (id of the kept original, similarity, 'exact'|'near')}."""
        j_arr, i_arr, e_arr = self.candidates()
        dup_of = np.full(self.n, -1, dtype=np.int64)
        out: dict[int, tuple[str, float, str]] = {}
        bounds = np.r_[0, np.nonzero(np.diff(j_arr))[0] + 1, len(j_arr)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if a == b:
                continue
            j = int(j_arr[a])
            best: tuple[float, int, str] | None = None
            tried: set[int] = set()
            for i, is_exact in zip(i_arr[a:b].tolist(), e_arr[a:b].tolist(), strict=True):
                root = i if dup_of[i] < 0 else int(dup_of[i])
                if root in tried:
                    continue
                tried.add(root)
                if is_exact and " ".join(self._doc(j)[1].split()) == " ".join(self._doc(root)[1].split()):
                    best = (1.0, root, "exact")
                    break
                sim = self.similarity(j, root)
                if sim >= self.threshold and (best is None or sim > best[0]):
                    best = (sim, root, "near")
            if best is not None:
                dup_of[j] = best[1]
                out[j] = (self._doc(best[1])[0], round(best[0], 4), best[2])
        for fh in self._fh.values():
            fh.close()
        return out


class DedupFilter(Step):
    """Drops documents the index decided are duplicates; names the kept original."""

    name = "dedup"

    def __init__(self, decisions: dict[int, tuple[str, float, str]], start: int):
        super().__init__()
        self.decisions, self.pos = decisions, start

    def process(self, doc: Doc) -> str | None:
        hit = self.decisions.get(self.pos)
        self.pos += 1
        if hit is None:
            return None
        orig, sim, kind = hit
        doc["metadata"]["duplicate_of"] = orig
        doc["metadata"]["duplicate_similarity"] = sim
        self.stats.score("duplicate_similarity", sim)
        return f"{kind}_duplicate: of {orig}"
