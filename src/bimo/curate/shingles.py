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

import sys

import numpy as np

U64 = np.uint64
_LO, _HI = (0, 1) if sys.byteorder == "little" else (1, 0)  # uint32 halves of a uint64
_B = U64(0x100000001B3)
_M1, _M2 = U64(0xBF58476D1CE4E5B9), U64(0x94D049BB133111EB)
EMPTY = np.uint32(0xFFFFFFFF)


def mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes over all 64 bits."""
    h = h ^ (h >> U64(30))  # a new array; the rest works in place
    h *= _M1
    h ^= h >> U64(27)
    h *= _M2
    h ^= h >> U64(31)
    return h


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Code point → its lower-case code point, and → is a token character once lower-cased.

    Token characters are digits, letters, kana, Han and hangul (astral planes from U+20000, the
    CJK extensions, count as tokens). Lower-casing by table is `str.lower` one character at a
    time (U+0130 İ becomes i, the letter `str.lower` begins with).
    """
    low = np.arange(0x110000, dtype=np.uint32)
    bmp = "".join(map(chr, range(0x20000))).replace("\u0130", "i")
    low[:0x20000] = np.frombuffer(bmp.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    tok = np.zeros(0x110000, dtype=bool)
    for lo, hi in ((0x30, 0x39), (0x61, 0x7A), (0xC0, 0x24F), (0x3040, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF)):
        tok[lo:hi + 1] = True
    tok[0x20000:] = True
    return low, tok[low]


_LOWER, _TOKEN = _tables()


def _codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Code points of the texts joined by NUL separators, and each text's length (without the separator).

    NULs inside a text become spaces; lone surrogates pass through as code points.
    """
    texts = [t.replace("\x00", " ") for t in texts]
    cp = np.frombuffer("\x00".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return cp, lengths


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Offset of each text in the NUL-joined code points."""
    return np.cumsum(lengths + 1) - (lengths + 1)


def _per_text(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """How many positions of each text are set in `mask` (over the NUL-joined code points)."""
    out = np.zeros(len(lengths), dtype=np.int64)
    full = lengths > 0
    if full.any():
        out[full] = np.add.reduceat(mask.view(np.uint8), _starts(lengths)[full], dtype=np.int64)
    return out


def _ngrams(h: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of n consecutive units within one document, given the units of all documents in a row and each
    document's unit count; docs shorter than n keep one shingle of all units."""
    nd = len(counts)
    if n == 1 or len(h) == 0:
        return h.astype(U64), np.repeat(np.arange(nd, dtype=np.int64), counts)
    m = len(h) - n + 1
    if m > 0:
        g = h[:m].astype(U64)
        for k in range(1, n):
            g *= _B
            np.add(g, h[k:k + m], out=g, casting="unsafe")
        # A shingle starting in the last n-1 units of a document crosses into the next one.
        bad = (np.cumsum(counts)[:, None] - np.arange(1, n)[None, :]).ravel()
        ok = np.ones(m, dtype=bool)
        ok[bad[(bad >= 0) & (bad < m)]] = False
        g = g[ok]
    else:
        g = np.zeros(0, U64)
    gd = np.repeat(np.arange(nd, dtype=np.int64), np.maximum(counts - n + 1, 0))
    # Short documents: fold all their units into one shingle so they still match their copies.
    short = (counts > 0) & (counts < n)
    if short.any():
        sel = np.repeat(short, counts)
        acc = np.zeros(nd, dtype=U64)
        np.add.at(acc, np.repeat(np.arange(nd, dtype=np.int64), counts)[sel], mix(h[sel].astype(U64) + U64(1)))
        g = np.concatenate([g, acc[short]])
        gd = np.concatenate([gd, np.nonzero(short)[0]])
    return g, gd


def _words(cp: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Word hashes (runs of token characters; polynomial over their first 64 characters) and words per text."""
    pos = np.flatnonzero(_TOKEN[cp])
    if len(pos) == 0:
        return np.zeros(0, U64), np.zeros(len(lengths), np.int64)
    first = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1] + 1])  # NUL separators end words too
    rank = np.arange(len(pos)) - np.repeat(first, np.diff(np.r_[first, len(pos)]))
    vals = _LOWER[cp[pos]].astype(U64) * _POWERS[np.minimum(rank, 63)]
    wh = mix(np.add.reduceat(vals, first))
    ends = np.cumsum(lengths + 1)
    counts = np.bincount(np.searchsorted(ends, pos[first], side="right"), minlength=len(lengths))
    return wh, counts


_POWERS = mix(np.arange(64, dtype=U64) + U64(17))


def guess_langs(texts: list[str]) -> list[str]:
    """Vectorised form of bimo.text's rule for the zh/en choice: Han characters ≥ Latin words → 'zh'."""
    cp, lengths = _codepoints(texts)
    cp = _LOWER[cp]
    han = _per_text((cp >= 0x3400) & (cp <= 0x9FFF), lengths)
    latin = (cp >= 0x61) & (cp <= 0x7A)
    words = _per_text(latin & ~np.r_[False, latin[:-1]], lengths)
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
        cp, lengths = _codepoints([texts[i] for i in sel] if len(sel) < len(texts) else texts)
        if want_zh:
            keep = _TOKEN[cp]
            g, gd = _ngrams(_LOWER[cp[keep]], _per_text(keep, lengths), zh_ngram)
        else:
            wh, counts = _words(cp, lengths)
            g, gd = _ngrams(wh, counts, en_ngram)
        out_h.append(mix(g))
        out_d.append(np.asarray(sel, dtype=np.int64)[gd])
    if not out_h:
        return np.zeros(0, U64), np.zeros(0, np.int64)
    return np.concatenate(out_h), np.concatenate(out_d)


def minhash_oph(h: np.ndarray, doc: np.ndarray, n_docs: int, k: int) -> np.ndarray:
    """(n_docs, k) uint32 one-permutation MinHash with rotation densification; all-EMPTY rows for no shingles."""
    out = np.full(n_docs * k, EMPTY, dtype=np.uint32)
    if len(h):
        # bin from the top 16 of the low 32 bits by multiply-shift (no 64-bit modulo), value from the
        # high 32 bits; both read as uint32 halves of the hashes, without copies
        halves = np.ascontiguousarray(h, dtype=U64).view(np.uint32).reshape(-1, 2)
        bins = halves[:, _LO] >> np.uint32(16)
        bins *= np.uint32(k)
        bins >>= np.uint32(16)
        idx = doc * k
        idx += bins
        np.minimum.at(out, idx, halves[:, _HI])
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
