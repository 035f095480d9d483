"""Exact and near-duplicate removal over the whole corpus, streaming and on disk.

Three phases, so that memory stays bounded and shards run in parallel:

1. `Sketcher` (per shard, parallel): for every kept document, LSH keys — MinHash
   (one-permutation, K = bands × rows bins) cut into bands, or SimHash with
   bit-sampling tables (each table keys on 12 fixed random bits, so hashes within
   Hamming distance 10 — typical for 3–8% edits — meet in some table with high
   probability) — and an exact key: a hash of the whole MinHash sketch (free; equal
   for texts that differ only in case, spacing or punctuation), or of the
   whitespace-folded text for SimHash and exact-only runs. Documents are sketched
   ~100k characters of one language group at a time (numpy temporaries stay small).
   Keys go to `.npy` files beside the shard; nothing global is held in RAM.
2. `DuplicateIndex` (global, one pass per key column): sort each column
   (memory-mapped, one column at a time), pair each document with up to
   `window` earlier documents in the same bucket, then verify candidates with their
   *real* similarity, texts re-read by byte offset from memory-mapped work shards:
   normalised Levenshtein similarity (rapidfuzz, bit-parallel C; default ≥ 0.8)
   or the exact Jaccard of the shingle sets (≥ 0.5). Verification is what keeps
   precision high while the LSH is set loose for recall. Similarities are computed
   a chunk of candidate pairs at a time on `workers` threads (rapidfuzz releases the
   GIL); the decisions are then taken in corpus order. An exact key only counts when
   the whitespace-folded texts are equal. A document is a duplicate only of a document that
   was kept, so `metadata.duplicate_of` always names a kept original that really
   is similar — chains A≈B≈C never remove C for a weak resemblance to A.
3. `DedupFilter` (per shard, parallel, over work-shard rows): drops the decided duplicates with
   `metadata.duplicate_of`, `metadata.duplicate_similarity` and the reason.

Defaults (3-character / 3-word shingles, 32 bands × 3 rows, edit similarity ≥ 0.8) are
tuned so copies with up to ~10% of characters or words edited are caught: an
edit touches n shingles, so 8% edits with n=3 leave Jaccard ≈ 0.6, where the
S-curve 1-(1-J³)³² is already 0.999 (with 5-grams it would be ≈0.4 and need many
more bands).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bimo.curate.base import Doc, DocStep
from bimo.curate.shingles import band_keys, jaccard, minhash_oph, mix, shingle_hashes, simhash
from bimo.curate.workshards import ShardFiles, WorkDocs, WorkRow
from bimo.errors import BimoError


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exact: bool = True
    method: Literal["minhash", "simhash", "none"] = "minhash"
    zh_ngram: int = Field(3, ge=1)
    en_ngram: int = Field(3, ge=1)
    bands: int = Field(32, ge=1)
    rows: int = Field(3, ge=1)
    verify: Literal["edit", "jaccard"] = "edit"
    threshold: float | None = Field(None, ge=0, le=1)  # default: edit similarity 0.8, or Jaccard 0.5
    simhash_ngram: int = Field(1, ge=1)  # bag of characters / words: the most edit-stable SimHash input
    simhash_max_distance: int = Field(10, ge=0, le=64)
    simhash_tables: int = Field(32, ge=1)
    simhash_bits: int = Field(12, ge=1, le=64)
    window: int = Field(2, ge=1)
    batch_chars: int = Field(100_000, ge=1)  # sketch this many characters at a time (numpy temporaries stay small)


def exact_key(text: str) -> int:
    """64-bit key of the text with whitespace folded; equal keys are confirmed on the texts."""
    h = hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "little")


def simhash_masks(cfg: DedupConfig) -> list[np.uint64]:
    """Fixed random bit masks, one per table (seeded: every shard and run agrees)."""
    rng = np.random.default_rng(12345)
    return [np.uint64(sum(1 << int(b) for b in rng.choice(64, cfg.simhash_bits, replace=False)))
            for _ in range(cfg.simhash_tables)]


def signature_keys(keys: np.ndarray) -> np.ndarray:
    """Exact-match keys from the LSH keys: one 64-bit hash of each document's whole sketch row.

    Exact copies have identical sketches; so do texts that differ only in case, spacing or
    punctuation (and some very close near-copies), which is harmless: equal keys are candidates,
    confirmed on the whitespace-folded texts.
    """
    out = np.zeros(keys.shape[0], dtype=np.uint64)
    for c in range(keys.shape[1]):
        out = mix(out ^ keys[:, c])
    return out


class Sketcher:
    """Collects per-document keys for one shard and saves them beside it.

    Documents are buffered by how they are shingled (English by words, other known
    languages by characters, unknown ones guessed), so each batch takes one path.
    """

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.n = 0
        self._pos: list[np.ndarray] = []
        self.exact: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self._buf: dict[str | None, tuple[list[int], list[str], list[str | None]]] = {}
        self._chars: dict[str | None, int] = {}

    def add(self, doc: Doc) -> None:
        lang = doc.get("metadata", {}).get("lang")
        group = None if lang is None else ("en" if lang == "en" else "chars")
        pos, texts, langs = self._buf.setdefault(group, ([], [], []))
        pos.append(self.n)
        texts.append(doc["text"])
        langs.append(lang)
        self.n += 1
        self._chars[group] = self._chars.get(group, 0) + len(doc["text"])
        if self._chars[group] >= self.cfg.batch_chars:
            self._flush(group)

    def _flush(self, group: str | None) -> None:
        pos, texts, langs = self._buf.pop(group, ([], [], []))
        self._chars.pop(group, None)
        if not texts:
            return
        c = self.cfg
        n = len(texts)
        self._pos.append(np.array(pos, dtype=np.int64))
        if c.method == "minhash":
            h, d = shingle_hashes(texts, langs, c.zh_ngram, c.en_ngram)
            keys = band_keys(minhash_oph(h, d, n, c.bands * c.rows), c.bands, c.rows)
            self.keys.append(keys)
            self.exact.append(signature_keys(keys))
        elif c.method == "simhash":
            h, d = shingle_hashes(texts, langs, c.simhash_ngram, c.simhash_ngram)
            sh = simhash(h, d, n)
            # Table keys (bit samples) for bucketing, then the full hash for the Hamming check.
            tables = [(sh & m) ^ np.uint64(t) for t, m in enumerate(simhash_masks(c))]
            self.keys.append(np.stack(tables + [sh], axis=1))
            self.exact.append(np.array([exact_key(t) for t in texts], dtype=np.uint64))
        else:
            self.exact.append(np.array([exact_key(t) for t in texts], dtype=np.uint64))

    def save(self, prefix: Path) -> None:
        for group in list(self._buf):
            self._flush(group)
        width = {"minhash": self.cfg.bands, "simhash": self.cfg.simhash_tables + 1, "none": 0}[self.cfg.method]
        order = np.argsort(np.concatenate(self._pos)) if self._pos else np.zeros(0, np.int64)  # back to input order
        exact = np.concatenate(self.exact)[order] if self.exact else np.zeros(0, np.uint64)
        keys = np.concatenate(self.keys)[order] if self.keys else np.zeros((self.n, width), np.uint64)
        np.save(f"{prefix}.exact.npy", exact)
        np.save(f"{prefix}.lsh.npy", keys.astype(np.uint64))


class DuplicateIndex:
    """Global candidate generation and verification; see the module docstring."""

    chunk_pairs = 8192  # candidate pairs verified together (texts of one chunk are held in memory)
    chunk_bytes = 32_000_000  # ... and by the JSON size of their later documents

    def __init__(self, cfg: DedupConfig, shards: list[ShardFiles], workers: int = 1):
        self.cfg = cfg
        self.shards = shards
        self.workers = max(1, workers)
        self.starts = np.cumsum([0] + [s.n for s in shards])
        self.n = int(self.starts[-1])
        self.docs = WorkDocs(shards)
        self._cache: dict[int, tuple[str, str, np.ndarray]] = {}
        self._folded: dict[int, str] = {}
        self._sims: dict[tuple[int, int], float] = {}
        self.threshold = cfg.threshold if cfg.threshold is not None else (0.8 if cfg.verify == "edit" else 0.5)
        if cfg.verify == "edit":
            try:
                from rapidfuzz.distance import Levenshtein
            except ImportError:
                raise BimoError("dedup verification by edit similarity needs rapidfuzz: "
                                "pip install rapidfuzz==3.14.6 (or set dedup.verify: jaccard)") from None
            self._lev = Levenshtein.normalized_similarity
            # Planted and natural near-copies mostly score 0.9+: the hint picks rapidfuzz's faster path.
            self._hint = max(self.threshold, 0.9)

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
            j, i = self._pairs(self._column("exact", None), c.window)
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
    def _doc(self, g: int) -> tuple[str, str, np.ndarray]:
        val = self._cache.get(g)
        if val is not None:
            return val
        doc = self.docs.get(g)
        h = np.zeros(0, np.uint64)
        if self.cfg.verify == "jaccard":
            h, _ = shingle_hashes([doc["text"]], [doc.get("metadata", {}).get("lang")], self.cfg.zh_ngram,
                                  self.cfg.en_ngram)
            h = np.unique(h)
        val = self._cache[g] = (str(doc["id"]), doc["text"], h)
        return val

    def folded(self, g: int) -> str:
        f = self._folded.get(g)
        if f is None:
            f = self._folded[g] = " ".join(self._doc(g)[1].split())
        return f

    def similarity(self, a: int, b: int) -> float:
        got = self._sims.get((a, b))
        if got is not None:
            return got
        _, ta, ha = self._doc(a)
        _, tb, hb = self._doc(b)
        if self.cfg.verify == "jaccard":
            return jaccard(ha, hb)
        # score_cutoff lets rapidfuzz stop early (banded): ~2x faster, 0.0 below the threshold
        return float(self._lev(ta, tb, score_cutoff=self.threshold, score_hint=self._hint))

    def _prefetch(self, j: np.ndarray, i: np.ndarray, e: np.ndarray, dup_of: np.ndarray) -> None:
        """Verify a chunk of candidate pairs at once, on `workers` threads (rapidfuzz releases the GIL).

        The roots of earlier chunks are known; inside the chunk each candidate is assumed to be
        its own root. Whatever the walk in `decide` then asks for and is not here is computed
        on the spot, so this only changes speed, never the decisions.
        """
        roots = np.where(dup_of[i] >= 0, dup_of[i], i)
        for g in np.unique(np.concatenate([j, roots])).tolist():
            self._doc(g)
        if self.cfg.verify != "edit":
            return
        confirmed = {a for a, r in zip(j[e].tolist(), roots[e].tolist(), strict=True)
                     if self.folded(a) == self.folded(r)}
        todo = sorted({(a, r) for a, r in zip(j.tolist(), roots.tolist(), strict=True) if a not in confirmed})
        if not todo:
            return
        from rapidfuzz.process import cpdist
        sims = cpdist([self._cache[a][1] for a, _ in todo], [self._cache[r][1] for _, r in todo],
                      scorer=self._lev, score_cutoff=self.threshold, score_hint=self._hint,
                      dtype=np.float64, workers=self.workers)
        self._sims.update(zip(todo, sims.tolist(), strict=True))

    def decide(self) -> dict[int, tuple[str, float, str]]:
        """{global index of a duplicate: (id of the kept original, similarity, 'exact'|'near')}.

        Documents are decided in corpus order. A candidate stands for its root (the kept
        original it was itself a duplicate of). If an exact-key candidate's whitespace-folded
        text equals the document's, it is an exact duplicate; otherwise it is a near duplicate
        of the most similar candidate root at or above the threshold, if any.
        """
        j_arr, i_arr, e_arr = self.candidates()
        dup_of = np.full(self.n, -1, dtype=np.int64)
        out: dict[int, tuple[str, float, str]] = {}
        bounds = np.r_[0, np.nonzero(np.diff(j_arr))[0] + 1, len(j_arr)] if len(j_arr) else np.zeros(1, np.int64)
        csize = np.r_[0, np.cumsum(self.docs.line_bytes(j_arr[bounds[:-1]]))]
        k = 0
        while k < len(bounds) - 1:
            # a chunk: whole groups (one later document each), bounded by pairs and by bytes
            by_pairs = int(np.searchsorted(bounds, bounds[k] + self.chunk_pairs, side="right")) - 1
            by_bytes = int(np.searchsorted(csize, csize[k] + self.chunk_bytes, side="right")) - 1
            stop = max(k + 1, min(by_pairs, by_bytes))
            a0, b0 = int(bounds[k]), int(bounds[stop])
            self._prefetch(j_arr[a0:b0], i_arr[a0:b0], e_arr[a0:b0], dup_of)
            for a, b in zip(bounds[k:stop].tolist(), bounds[k + 1:stop + 1].tolist(), strict=True):
                j = int(j_arr[a])
                roots: dict[int, bool] = {}  # root -> reached through an exact-key candidate
                for i, is_exact in zip(i_arr[a:b].tolist(), e_arr[a:b].tolist(), strict=True):
                    root = i if dup_of[i] < 0 else int(dup_of[i])
                    roots[root] = roots.get(root, False) or is_exact
                best: tuple[float, int, str] | None = None
                for root, is_exact in roots.items():
                    if is_exact and self.folded(j) == self.folded(root):
                        best = (1.0, root, "exact")
                        break
                if best is None:
                    for root in roots:
                        sim = self.similarity(j, root)
                        if sim >= self.threshold and (best is None or sim > best[0]):
                            best = (sim, root, "near")
                if best is not None:
                    dup_of[j] = best[1]
                    out[j] = (self._doc(best[1])[0], round(best[0], 4), best[2])
            self._cache.clear()
            self._folded.clear()
            self._sims.clear()
            k = stop
        self.docs.close()
        return out


class DedupFilter(DocStep):
    """Drops the work-shard rows the index decided are duplicates; names the kept original."""

    name = "dedup"

    def __init__(self, decisions: dict[int, tuple[str, float, str]]):
        super().__init__()
        self.decisions = decisions

    def process(self, row: WorkRow) -> str | None:
        hit = self.decisions.get(row.index)
        return None if hit is None else f"{hit[2]}_duplicate: of {hit[0]}"

    def reject(self, row: WorkRow, reason: str) -> None:
        orig, sim, _ = self.decisions[row.index]
        doc = row.doc()
        doc["metadata"]["duplicate_of"] = orig
        doc["metadata"]["duplicate_similarity"] = sim
        self.stats.score("duplicate_similarity", sim)
        super().reject(doc, reason)
