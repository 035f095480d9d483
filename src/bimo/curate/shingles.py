"""Vectorised shingling and sketches for near-dedup, a batch of documents at a time.

Chinese is shingled by *characters* (Han, letters, digits; punctuation and
spaces dropped), English by *words*; both as n-gram hashes built with numpy
rolling polynomials over code points, so no per-token Python runs.

Sketches:
- MinHash by one-permutation hashing (OPH): each shingle hash picks one of K
  bins and competes for that bin's minimum; empty bins (short documents) are
  filled from the next non-empty bin by rotation densification. One hash per
  shingle instead of K makes it ~10× faster than classic K-permutation MinHash
  while estimating the same Jaccard similarity.
- SimHash (the WeLM choice): 64-bit signed-bit sum over shingle hashes.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64
_B = U64(0x100000001B3)
_M1, _M2 = U64(0xBF58476D1CE4E5B9), U64(0x94D049BB133111EB)
EMPTY = np.uint32(0xFFFFFFFF)


def mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes over all 64 bits."""
    h = h ^ (h >> U64(30))
    h = h * _M1
    h = h ^ (h >> U64(27))
    h = h * _M2
    return h ^ (h >> U64(31))


def _codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated lower-cased code points and each position's document index."""
    # NUL separates documents, so NULs inside a text become spaces.
    joined = "\x00".join(t.lower().replace("\x00", " ") for t in texts)
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    doc = np.cumsum(cp == 0, dtype=np.int64)
    return cp, doc


def _token_table() -> np.ndarray:
    t = np.zeros(0x10000, dtype=bool)
    for lo, hi in ((0x30, 0x39), (0x61, 0x7A), (0xC0, 0x24F), (0x3040, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF)):
        t[lo:hi + 1] = True
    return t


_TOKEN = _token_table()


def _is_token_char(cp: np.ndarray) -> np.ndarray:
    """Digits, letters, kana, Han, hangul (one table lookup; astral planes count as tokens)."""
    return _TOKEN[np.minimum(cp, 0xFFFF)] | (cp >= 0x20000)


def _ngrams(h: np.ndarray, doc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of n consecutive units within one document; docs shorter than n keep one shingle of all units."""
    if n == 1 or len(h) == 0:
        return h, doc
    m = len(h) - n + 1
    if m <= 0:
        g, gd = np.zeros(0, U64), np.zeros(0, np.int64)
    else:
        g = h[:m].copy()
        for k in range(1, n):
            g = g * _B + h[k:k + m]
        ok = doc[:m] == doc[n - 1:]
        g, gd = g[ok], doc[:m][ok]
    # Short documents: fold all their units into one shingle so they still match their copies.
    counts = np.bincount(doc, minlength=int(doc.max()) + 1)
    short = np.nonzero((counts > 0) & (counts < n))[0]
    if len(short):
        is_short = np.zeros(len(counts), bool)
        is_short[short] = True
        sel = is_short[doc]
        acc = np.zeros(int(doc.max()) + 1, dtype=U64)
        np.add.at(acc, doc[sel], mix(h[sel] + U64(1)))  # order-free, fine for a handful of units
        g = np.concatenate([g, acc[short]])
        gd = np.concatenate([gd, short])
    return g, gd


def guess_langs(texts: list[str]) -> list[str]:
    """Vectorised form of bimo.text's rule for the zh/en choice: Han characters ≥ Latin words → 'zh'."""
    cp, doc = _codepoints(texts)
    n = len(texts)
    han = np.bincount(doc[(cp >= 0x3400) & (cp <= 0x9FFF)], minlength=n)
    latin = (cp >= 0x61) & (cp <= 0x7A)
    starts = latin & ~np.r_[False, latin[:-1]]
    words = np.bincount(doc[starts], minlength=n)
    return ["zh" if a >= b and a > 0 else "en" for a, b in zip(han.tolist(), words.tolist(), strict=True)]


def shingle_hashes(texts: list[str], langs: list[str | None] | None = None, zh_ngram: int = 3,
                   en_ngram: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(hash, doc index) of every shingle of every text; mixed over 64 bits.

    Missing languages are guessed with `guess_langs` (the same Han-vs-words rule as bimo.text).
    """
    langs = list(langs) if langs is not None else [None] * len(texts)
    todo = [i for i, lang in enumerate(langs) if lang is None]
    if todo:
        for i, lang in zip(todo, guess_langs([texts[i] for i in todo]), strict=True):
            langs[i] = lang
    out_h, out_d = [], []
    for want_zh in (True, False):
        # Everything but English (zh, and 'other' such as Japanese) is shingled by characters.
        sel = [i for i, lang in enumerate(langs) if (lang != "en") == want_zh]
        if not sel:
            continue
        cp, doc = _codepoints([texts[i] for i in sel])
        keep = _is_token_char(cp)
        if want_zh:
            g, gd = _ngrams(cp[keep].astype(U64), doc[keep], zh_ngram)
        else:
            # Words: runs of token characters; word hash = polynomial over its (first 64) characters.
            pos = np.nonzero(keep)[0]
            if len(pos) == 0:
                continue
            start = np.r_[True, pos[1:] != pos[:-1] + 1]
            first = np.nonzero(start)[0]
            rank = np.arange(len(pos)) - np.repeat(first, np.diff(np.r_[first, len(pos)]))
            powers = mix(np.arange(64, dtype=U64) + U64(17))
            vals = cp[pos].astype(U64) * powers[np.minimum(rank, 63)]
            wh = np.add.reduceat(vals, first)
            g, gd = _ngrams(mix(wh), doc[pos[first]], en_ngram)
        out_h.append(mix(g))
        out_d.append(np.asarray(sel, dtype=np.int64)[gd])
    if not out_h:
        return np.zeros(0, U64), np.zeros(0, np.int64)
    return np.concatenate(out_h), np.concatenate(out_d)


def minhash_oph(h: np.ndarray, doc: np.ndarray, n_docs: int, k: int) -> np.ndarray:
    """(n_docs, k) uint32 one-permutation MinHash with rotation densification; all-EMPTY rows for no shingles."""
    out = np.full(n_docs * k, EMPTY, dtype=np.uint32)
    if len(h):
        bins = (h % U64(k)).astype(np.int64)
        np.minimum.at(out, doc * k + bins, (h >> U64(32)).astype(np.uint32))
    out = out.reshape(n_docs, k)
    empty = out == EMPTY
    if empty.any():
        # next non-empty bin to the right (circularly): reverse running minimum over doubled indices
        idx = np.where(~empty, np.arange(k), 4 * k)
        idx2 = np.concatenate([idx, idx + k], axis=1)
        nxt = np.minimum.accumulate(idx2[:, ::-1], axis=1)[:, ::-1][:, :k]
        has = nxt < 3 * k
        dist = (nxt - np.arange(k)).astype(np.uint32)
        src = np.take_along_axis(out, np.where(has, nxt % k, 0), axis=1)
        filled = (mix(src.astype(U64) * U64(k + 1) + dist.astype(U64)) >> U64(32)).astype(np.uint32)
        out = np.where(empty & has, filled, out)
    return out


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64 LSH bucket keys; a band is a bucket hit only if all its rows agree."""
    n = sig.shape[0]
    s = sig[:, : bands * rows].astype(U64).reshape(n, bands, rows)
    key = np.zeros((n, bands), dtype=U64)
    for r in range(rows):
        key = mix(key + s[:, :, r] + U64(r + 1))
    return key + np.arange(bands, dtype=U64)  # band id keeps bands apart


def simhash(h: np.ndarray, doc: np.ndarray, n_docs: int, chunk: int = 1 << 17) -> np.ndarray:
    """64-bit SimHash per document (uint64): bit k is set when most shingle hashes have bit k set."""
    order = np.argsort(doc, kind="stable")
    h, doc = h[order], doc[order]
    ones = np.zeros((n_docs, 64), dtype=np.int64)
    count = np.bincount(doc, minlength=n_docs)
    shifts = np.arange(64, dtype=U64)
    for s in range(0, len(h), chunk):
        hc, dc = h[s:s + chunk], doc[s:s + chunk]
        # little-endian bytes unpacked little-bit-first: column k is bit k of the uint64
        bits = np.unpackbits(np.ascontiguousarray(hc).view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        starts = np.r_[0, np.nonzero(np.diff(dc))[0] + 1]
        ones[dc[starts]] += np.add.reduceat(bits, starts, axis=0, dtype=np.int64)
    set_bits = (2 * ones > count[:, None]).astype(U64)
    return (set_bits << shifts).sum(axis=1, dtype=U64)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two shingle-hash sets."""
    a, b = np.unique(a), np.unique(b)
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
