"""Question matcher: lexical retrieval + rapidfuzz scores + a calibrated answer/suggest/refuse rule.

Pipeline (shared/reference/matching.md §6):
1. `normalize.analyze` both sides; snap unknown query syllables to the KB vocabulary (typos);
2. candidates from BM25 over folded syllables and syllable pairs, and from rapidfuzz
   `token_sort_ratio` over every indexed wording;
3. features per candidate entry (coverage both ways, BM25, token_sort_ratio, pair overlap,
   document-key agreement), ranked by a fixed blend;
4. confidence = logistic model over the top candidate's features, the margin to the runner-up and
   the share of unknown words; thresholds come from `content/calibration.yaml`, which is fitted
   by `nqbot content calibrate` and tied to the knowledge-base version.
Hard rules first: no words → no content; a question naming only documents the KB does not
cover → unknown; a question equal to an indexed wording → answer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from content.kb import Entry, KnowledgeBase
from content.normalize import Analyzed, analyze

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration" / "model.yaml"

# Per-candidate features used to rank entries (weights fitted by `nqbot content calibrate`).
RANK_FEATURES = (
    "qcov",
    "vcov",
    "tsr",
    "bm25",
    "bicov",
    "qcov_bag",
    "qcov_ans",
    "qcov_all",
    "key_agree",
    "key_disagree",
    "num_miss",
    "char",
    "centroid",
)
# Features of the top candidate used by the confidence model: its ranking features, the margin
# over the runner-up, the share of unknown words, the length, whether the character channel's
# own first choice is the same entry, and whether the runner-up is a sibling of the same topic.
FEATURES = (*RANK_FEATURES, "margin", "unknown_frac", "length", "rank", "char_agree",
            "bm25_agree", "char_margin")
# Conservative fallback used only when no calibration exists (a fresh entry set before
# `nqbot content calibrate` is run): answer only near-verbatim matches.
_DEFAULT_MODEL: dict[str, Any] = {
    "weights": {"rank": 12.0, "margin": 6.0, "unknown_frac": -4.0},
    "bias": -9.0,
    "tau_answer": 0.9,
    "tau_suggest": 0.3,
    "kb_version": None,
}

K1 = 1.2
B = 0.5
# Hand-set ranking used before the first calibration.
DEFAULT_RANK_WEIGHTS = {
    "qcov": 0.3,
    "vcov": 0.15,
    "tsr": 0.2,
    "bm25": 0.1,
    "bicov": 0.1,
    "qcov_bag": 0.1,
    "qcov_ans": 0.05,
    "qcov_all": 0.0,
    "key_agree": 0.12,
    "key_disagree": -0.35,
    "num_miss": -0.3,
    "char": 0.1,
    "centroid": 0.1,
}
CHAR_N = 3  # character n-grams of the folded text, word-bounded
CHAR_MAX_DF = 0.25


class Status(StrEnum):
    ANSWERED = "answered"
    SUGGESTED = "suggested"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    MATCH = "match"
    EXACT = "exact"
    OVERVIEW = "overview"
    LOW_CONFIDENCE = "low_confidence"
    NO_CONTENT = "no_content"
    OTHER_DOCUMENT = "other_document"


# "X nói gì / là gì / về vấn đề gì / nội dung chính / có gì mới / tóm tắt": once the document
# reference and its issuer are taken out, a question made only of these words asks for the
# document's overview. Phrases are removed first (longest first), then single words.
_ISSUER_PHRASES = tuple(
    tuple(p.split())
    for p in sorted(
        (
            "bo chinh tri", "ban chap hanh trung uong", "ban chap hanh", "trung uong", "chinh phu",
            "quoc hoi", "ban tuyen giao trung uong", "ban bi thu", "dang", "khoa xiii", "khoa xi",
            "van ban", "nghi quyet", "ket luan", "huong dan", "ke hoach", "chuong trinh", "luat",
        ),
        key=lambda p: -len(p.split()),
    )
)
_OVERVIEW_SIGNALS = (
    ("noi", "gi"), ("la", "gi"), ("van", "de"), ("noi", "dung"), ("tom", "tat"), ("moi",),
    ("gioi", "thieu"), ("tong", "quan"), ("khai", "quat"), ("the", "nao"), ("ra", "sao"),
    ("ve", "gi"), ("gi",), ("de", "cap"), ("thong", "tin"), ("so", "luoc"), ("tim", "hieu"),
)
_OVERVIEW_WORDS = frozenset(
    "noi gi la ve van de dung chinh tom tat co moi the nao nhu gioi thieu cai dieu nhung "
    "trong tam tong quan khai quat ra sao hieu biet muon tim can chu vay ha nhi day oi em "
    "minh toi cho hoi xin bot ad so cua gi vay a nao sao ban ve de cap z zay gom linh vuc "
    "viet tuc thong tin chung ngan gon so luoc biet tim hieu hay dat ra nhac den ban luan "
    "duoc khong nghe toi".split()
)


def _has_phrase(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


def _remove_phrases(tokens: list[str], phrases: tuple[tuple[str, ...], ...]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in phrases:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


@dataclass
class Candidate:
    entry: Entry
    features: dict[str, float]
    rank: float


@dataclass
class MatchResult:
    status: Status
    reason: Reason
    query: Analyzed
    entry: Entry | None = None
    score: float = 0.0
    suggestions: list[Entry] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    clarify: bool = False  # two entries both fit: ask which one (two buttons)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "answer": self.entry.answer if self.entry and self.status is Status.ANSWERED else None,
            "entry_id": self.entry.id if self.entry and self.status is Status.ANSWERED else None,
            "source": self.entry.source if self.entry and self.status is Status.ANSWERED else None,
            "score": round(self.score, 4),
            "suggestions": [{"entry_id": e.id, "question": e.question} for e in self.suggestions],
        }


@dataclass
class _Variant:
    entry_idx: int
    tokens: tuple[str, ...]
    token_set: frozenset[str]
    bigram_set: frozenset[str]
    terms: dict[str, int]  # unigram and bigram term frequencies
    length: int
    folded: str
    text: str
    mass: float = 0.0  # idf mass of the wording's syllables (set once idf is known)


def _terms(a: Analyzed) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for t in (*a.tokens, *a.bigrams):
        counts[t] += 1
    return dict(counts)


def char_grams(folded: str) -> dict[str, int]:
    """Character trigrams of each word padded with spaces ("so" -> " so", "so ")."""
    counts: dict[str, int] = defaultdict(int)
    for word in folded.split():
        padded = f" {word} "
        if len(padded) <= CHAR_N:
            counts[padded] += 1
            continue
        for i in range(len(padded) - CHAR_N + 1):
            counts[padded[i : i + CHAR_N]] += 1
    return dict(counts)


Postings = dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (row indices, values)


def _as_postings(raw: dict[str, list[tuple[int, float]]]) -> Postings:
    return {
        t: (np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((w for _, w in rows), dtype=np.float64, count=len(rows)))
        for t, rows in raw.items()
    }


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


class Matcher:
    def __init__(self, kb: KnowledgeBase, model: dict[str, Any] | None = None) -> None:
        self.kb = kb
        self.entries: list[Entry] = list(kb.entries.values())
        self._variants: list[_Variant] = []
        self._exact: dict[str, list[int]] = defaultdict(list)  # folded wording -> variant indices
        entry_terms: list[set[str]] = []
        mentioned: set[str] = set()
        self._entry_keys: list[frozenset[str]] = []
        self._bags: list[frozenset[str]] = []  # every syllable of every wording of an entry
        self._answer_tokens: list[frozenset[str]] = []
        for ei, entry in enumerate(self.entries):
            answer = analyze(entry.full_answer)
            self._answer_tokens.append(frozenset(answer.tokens))
            terms_of_entry: set[str] = set(answer.tokens)
            bag: set[str] = set()
            keys: set[str] = set(self._registry_keys(entry.document))
            keys.update(self._registry_keys(entry.home))
            for wording in entry.variants:
                a = analyze(wording)
                keys.update(k.rstrip("!") for k in a.doc_keys)
                terms = _terms(a)
                terms_of_entry.update(terms)
                bag.update(a.tokens)
                vi = len(self._variants)
                self._variants.append(
                    _Variant(
                        entry_idx=ei,
                        tokens=a.tokens,
                        token_set=frozenset(a.tokens),
                        bigram_set=frozenset(a.bigrams),
                        terms=terms,
                        length=sum(terms.values()),
                        folded=a.folded,
                        text=wording,
                    )
                )
                self._exact[a.folded].append(vi)
            mentioned.update(keys)
            self._entry_keys.append(frozenset(keys))
            self._bags.append(frozenset(bag))
            entry_terms.append(terms_of_entry)
        self.covered_keys = frozenset(
            mentioned | {k for d in kb.documents.values() for k in d.keys}
        )
        n_entries = len(self.entries)
        df: dict[str, int] = defaultdict(int)
        for terms in entry_terms:
            for t in terms:
                df[t] += 1
        self.idf = {t: math.log(1 + (n_entries - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._max_idf = math.log(1 + (n_entries + 0.5) / 0.5) if n_entries else 1.0
        self.vocab = sorted(t for t in self.idf if "_" not in t)
        self._vocab_set = frozenset(self.vocab)
        self._avg_len = (
            sum(v.length for v in self._variants) / len(self._variants) if self._variants else 1.0
        )
        norms = [K1 * (1 - B + B * v.length / self._avg_len) for v in self._variants]
        # BM25 postings with the term-frequency part precomputed: score = idf * weight
        bm25_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for vi, v in enumerate(self._variants):
            for t, tf in v.terms.items():
                bm25_raw[t].append((vi, tf * (K1 + 1) / (tf + norms[vi])))
        self._postings = _as_postings(bm25_raw)
        # character trigram TF-IDF (cosine) over every wording: robust to typos and spacing
        grams = [char_grams(v.folded) for v in self._variants]
        gram_df: dict[str, int] = defaultdict(int)
        for g in grams:
            for t in g:
                gram_df[t] += 1
        n_var = max(1, len(self._variants))
        # grams in more than a quarter of all wordings ("ngh", " la") carry little and would make
        # every query touch most rows: left out of the vectors on both sides
        self._gram_idf = {t: math.log((1 + n_var) / (1 + d)) + 1.0
                          for t, d in gram_df.items() if d <= CHAR_MAX_DF * n_var or n_var < 50}
        char_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
        # an entry's centroid: the sum of its wordings' unit vectors, so a question is compared
        # with all the ways of asking at once (like a linear classifier over the entry's wordings)
        sums: list[dict[str, float]] = [defaultdict(float) for _ in self.entries]
        unit_vectors: list[dict[str, float]] = []
        for vi, g in enumerate(grams):
            weights = {t: (1 + math.log(tf)) * self._gram_idf[t]
                       for t, tf in g.items() if t in self._gram_idf}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            unit = {t: w / norm for t, w in weights.items()}
            unit_vectors.append(unit)
            entry_sum = sums[self._variants[vi].entry_idx]
            for t, w in unit.items():
                char_raw[t].append((vi, w))
                entry_sum[t] += w
        self._char_postings = _as_postings(char_raw)
        centroid_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for ei, entry_sum in enumerate(sums):
            for t, w in entry_sum.items():
                centroid_raw[t].append((ei, w))
        self._centroid_postings = _as_postings(centroid_raw)
        self._centroid_sq = np.array([sum(w * w for w in es.values()) for es in sums])
        # each wording's dot product with its own entry's sum, for leave-one-out
        self._variant_dot_sum = np.array([
            sum(w * sums[self._variants[vi].entry_idx][t] for t, w in unit.items())
            for vi, unit in enumerate(unit_vectors)
        ])
        del sums, unit_vectors
        # entry-level inverted indexes: every syllable of an entry's wordings, of its answer
        bag_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
        ans_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for ei, bag in enumerate(self._bags):
            for t in bag:
                bag_raw[t].append((ei, 1.0))
        for ei, ans in enumerate(self._answer_tokens):
            for t in ans:
                ans_raw[t].append((ei, 1.0))
        self._bag_postings = _as_postings(bag_raw)
        self._ans_postings = _as_postings(ans_raw)
        self._variant_entry = np.array([v.entry_idx for v in self._variants], dtype=np.int64)
        # variants are stored entry by entry, so per-entry maxima are one reduceat call
        self._entry_starts = np.array(
            [0, *np.flatnonzero(np.diff(self._variant_entry)) + 1], dtype=np.int64
        ) if self._variants else np.zeros(0, dtype=np.int64)
        for v in self._variants:
            v.terms = {}  # only needed to build the postings above
            v.mass = sum(self._idf(t) for t in v.token_set) or 1.0
        self._folded_variants = [v.folded for v in self._variants]
        self._entry_variants: list[list[int]] = [[] for _ in self.entries]
        for vi, v in enumerate(self._variants):
            self._entry_variants[v.entry_idx].append(vi)
        self.model = model or load_model(kb.version)
        # documents named without a number: "Luật Chuyển đổi số", the registry's names
        self._doc_names: list[tuple[tuple[str, ...], str]] = sorted(
            ((analyze(name).tokens, d.key)
             for d in kb.documents.values()
             for name in (*d.names, *([d.short] if not any(c.isdigit() for c in d.short) else []))
             if analyze(name).tokens),
            key=lambda item: -len(item[0]),
        )

    # -- document keys -------------------------------------------------------------------------
    def _registry_keys(self, document: str) -> tuple[str, ...]:
        doc = self.kb.documents.get(document)
        return doc.keys if doc else ()

    def resolve_keys(self, keys: frozenset[str]) -> tuple[set[str], list[str]]:
        """Split a question's document keys into covered (canonical) and unknown ones."""
        covered: set[str] = set()
        unknown: list[str] = []
        for key in sorted(keys):
            plain = key.rstrip("!")
            if key in self.kb.out_of_scope_keys or plain in self.kb.out_of_scope_keys:
                unknown.append(plain)
            elif plain in self.covered_keys:
                covered.add(plain)
            elif key.endswith("!"):
                unknown.append(plain)
            else:
                ktype, num = plain.split(":")
                alternatives = [
                    f"{t}:{num}" for t in ("NQCP", "NQQH") if ktype == "NQ"
                ] + [f"QH:{num}"] * (ktype in {"LUAT", "NQ"})
                found = [a for a in alternatives if a in self.covered_keys]
                if found:
                    covered.update(found)
                else:
                    unknown.append(plain)
        return covered, unknown

    def documents_for_keys(self, keys: set[str]) -> list[str]:
        """Registry documents that carry any of these canonical keys."""
        return [d.key for d in self.kb.documents.values() if keys & set(d.keys)]

    def overview_document(self, query: Analyzed, covered: set[str]) -> str | None:
        """The document a question asks to be summarised ("Nghị quyết 57 nói gì"), if any."""
        tokens = tuple(query.tokens)
        if not covered and not any(t.isdigit() for t in tokens):
            # named without a number: "Luật Chuyển đổi số nói gì"
            for name, key in self._doc_names:
                if _has_phrase(tokens, name):
                    left = _remove_phrases(list(tokens), (name,))
                    if all(t in _OVERVIEW_WORDS for t in left):
                        return key if self.kb.overview_entry(key) is not None else None
            return None
        rest = [t for t in _remove_phrases(list(query.residual), _ISSUER_PHRASES)
                if not t.isdigit()]
        if any(t not in _OVERVIEW_WORDS for t in rest):
            return None
        has_signal = any(_has_phrase(tokens, s) for s in _OVERVIEW_SIGNALS)
        if covered:
            docs = self.documents_for_keys(covered)
        else:
            # a bare number with an overview question: "57 là gì", "69 nói gì"
            numbers = {t.lstrip("0") for t in tokens if t.isdigit()}
            if len(numbers) != 1 or not has_signal:
                return None
            number = numbers.pop()
            docs = [
                d.key for d in self.kb.documents.values()
                if any(k.split(":")[1] == number for k in d.keys)
            ]
        if len(docs) != 1 or (rest and not has_signal):
            return None
        return docs[0] if self.kb.overview_entry(docs[0]) is not None else None

    # -- typo snapping -------------------------------------------------------------------------
    def snap(self, tokens: tuple[str, ...]) -> tuple[tuple[str, ...], float]:
        """Replace unknown syllables with the nearest KB syllable; return the unknown share."""
        if not tokens:
            return tokens, 0.0
        out: list[str] = []
        unknown = 0
        for tok in tokens:
            if tok in self._vocab_set:
                out.append(tok)
                continue
            if tok.isdigit() or len(tok) < 3:
                out.append(tok)
                unknown += 1
                continue
            cutoff = 1 if len(tok) <= 4 else 2
            # nearest syllables; among equally near ones the most common wins ("nhiu" is
            # "nhieu", not "chiu")
            hits = process.extract(
                tok, self.vocab, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=8
            )
            hit = min(hits, key=lambda h: (h[1], self._idf(h[0]))) if hits else None
            pieces = self._segment(tok) if hit is None and len(tok) >= 6 else None
            if hit is not None:
                out.append(hit[0])
            elif pieces:
                out.extend(pieces)  # "chuyendoiso" -> "chuyen doi so"
            else:
                out.append(tok)
                unknown += 1
        return tuple(out), unknown / len(tokens)

    def _segment(self, token: str) -> list[str] | None:
        """Split a run of syllables typed without spaces into KB syllables (fewest pieces)."""
        best: list[list[str] | None] = [None] * (len(token) + 1)
        best[0] = []
        for end in range(2, len(token) + 1):
            for start in range(max(0, end - 7), end - 1):
                prefix = best[start]
                piece = token[start:end]
                if prefix is not None and piece in self._vocab_set:
                    candidate = [*prefix, piece]
                    current = best[end]
                    if current is None or len(candidate) < len(current):
                        best[end] = candidate
        result = best[len(token)]
        return result if result and len(result) > 1 else None

    # -- scoring -------------------------------------------------------------------------------
    @staticmethod
    def _accumulate(
        postings: Postings,
        weights: dict[str, float],
        size: int,
    ) -> np.ndarray:
        """Sum of weight * posting value per row, over the query's terms (vectorised)."""
        idx: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for t, w in weights.items():
            hit = postings.get(t)
            if hit is not None and w:
                idx.append(hit[0])
                vals.append(hit[1] * w)
        if not idx:
            return np.zeros(size)
        return np.bincount(np.concatenate(idx), np.concatenate(vals), minlength=size)

    def _bm25(self, terms: dict[str, int], excluded: set[int]) -> np.ndarray:
        weights = {t: self.idf[t] for t in terms if t in self.idf}
        scores = self._accumulate(self._postings, weights, len(self._variants))
        if excluded:
            scores[list(excluded)] = 0.0
        return scores

    def _char(self, folded: str, excluded: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the question with every wording, and with every entry's centroid (the
        excluded wordings taken out of their centroid, for leave-one-out)."""
        grams = char_grams(folded)
        weights = {t: (1 + math.log(tf)) * self._gram_idf[t]
                   for t, tf in grams.items() if t in self._gram_idf}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        query = {t: w / norm for t, w in weights.items()}
        scores = self._accumulate(self._char_postings, query, len(self._variants))
        raw = self._accumulate(self._centroid_postings, query, len(self.entries))
        sq = self._centroid_sq.copy()
        for vi in excluded:
            ei = self._variants[vi].entry_idx
            raw[ei] -= scores[vi]
            sq[ei] += 1.0 - 2.0 * self._variant_dot_sum[vi]
        centroid = raw / np.sqrt(np.maximum(sq, 1e-9))
        if excluded:
            scores[list(excluded)] = 0.0
        return scores, centroid

    def _idf(self, token: str) -> float:
        return self.idf.get(token, self._max_idf)

    def candidates(
        self, query: Analyzed, exclude_variants: set[int] | None = None, limit: int = 40
    ) -> tuple[list[Candidate], float]:
        excluded = exclude_variants or set()
        tokens, unknown_frac = self.snap(query.tokens)
        snapped = Analyzed(
            original=query.original,
            cleaned=query.cleaned,
            folded=" ".join(tokens),
            tokens=tokens,
            doc_keys=query.doc_keys,
            accented=query.accented,
        )
        terms = _terms(snapped)
        q_bigrams = set(snapped.bigrams)
        q_tokens = set(tokens)
        q_numbers = {t for t in q_tokens if t.isdigit()}
        q_idf = {t: self._idf(t) for t in q_tokens}
        q_mass = sum(q_idf.values()) or 1.0
        q_self = sum(self.idf.get(t, 0.0) for t in terms) * (K1 + 1) / (1 + K1) or 1.0

        n = len(self.entries)
        bm25 = self._bm25(terms, excluded)
        char, centroid = self._char(snapped.folded, excluded)
        bm25_entry = np.maximum.reduceat(bm25, self._entry_starts) if n else np.zeros(0)
        char_entry = np.maximum.reduceat(char, self._entry_starts) if n else np.zeros(0)
        idf_weights = {t: self._idf(t) / q_mass for t in q_tokens}
        bag_cov = self._accumulate(self._bag_postings, idf_weights, n)
        ans_cov = self._accumulate(self._ans_postings, idf_weights, n)
        bags: dict[int, frozenset[str]] = {}
        for vi in excluded:  # leave-one-out: the held-out wording must not leak into its bag
            ei = self._variants[vi].entry_idx
            bags[ei] = frozenset().union(*(
                self._variants[other].token_set
                for other in self._entry_variants[ei]
                if other not in excluded
            ))
            bag_cov[ei] = sum(self._idf(t) for t in q_tokens & bags[ei]) / q_mass

        def top(values: np.ndarray, k: int) -> list[int]:
            k = min(k, n)
            if k <= 0:
                return []
            part = np.argpartition(-values, k - 1)[:k]
            return [int(i) for i in part if values[i] > 0]

        pool = set(top(bm25_entry, limit)) | set(top(char_entry, 15)) | set(top(centroid, 10))
        pool |= set(top(bag_cov, 10)) | set(top(ans_cov, 10))

        covered_keys, _ = self.resolve_keys(query.doc_keys)
        pool_list = sorted(pool)
        pool_variants = [vi for ei in pool_list for vi in self._entry_variants[ei]
                         if vi not in excluded]
        tsr_values = process.cdist(
            [snapped.folded], [self._folded_variants[vi] for vi in pool_variants],
            scorer=fuzz.token_sort_ratio, workers=1,
        )[0] if pool_variants else np.zeros(0)
        tsr = dict(zip(pool_variants, tsr_values.tolist(), strict=True))
        by_entry: dict[int, list[int]] = defaultdict(list)
        for vi in pool_variants:
            by_entry[self._variants[vi].entry_idx].append(vi)

        rank_weights = self.model.get("rank_weights") or DEFAULT_RANK_WEIGHTS
        result: list[Candidate] = []
        for ei in pool_list:
            vis = by_entry.get(ei, [])
            feats = {"qcov": 0.0, "vcov": 0.0, "tsr": 0.0, "bm25": 0.0, "bicov": 0.0}
            for vi in vis:
                v = self._variants[vi]
                common = q_tokens & v.token_set
                common_mass = sum(q_idf[t] for t in common)
                feats["qcov"] = max(feats["qcov"], common_mass / q_mass)
                feats["vcov"] = max(feats["vcov"], common_mass / v.mass)
                feats["tsr"] = max(feats["tsr"], tsr[vi] / 100.0)
                feats["bm25"] = max(feats["bm25"], min(1.5, bm25[vi] / q_self))
                if q_bigrams:
                    overlap = len(q_bigrams & v.bigram_set) / len(q_bigrams)
                    feats["bicov"] = max(feats["bicov"], overlap)
            bag = bags.get(ei, self._bags[ei])
            entry_keys = self._entry_keys[ei]
            agree = bool(covered_keys & entry_keys)
            feats["qcov_bag"] = float(bag_cov[ei])
            feats["qcov_ans"] = float(ans_cov[ei])
            feats["key_agree"] = float(agree)
            feats["key_disagree"] = float(bool(covered_keys) and not agree)
            known = bag | self._answer_tokens[ei]
            feats["qcov_all"] = sum(q_idf[t] for t in q_tokens & known) / q_mass
            # a number the question names (a year, a count) that no wording of the entry has;
            # answers are not used here, since they mention the other year to warn ("đừng nhầm")
            feats["num_miss"] = (
                sum(1 for num in q_numbers if num not in bag) / len(q_numbers)
                if q_numbers else 0.0
            )
            feats["char"] = float(char_entry[ei])
            feats["centroid"] = float(centroid[ei])
            rank = sum(w * feats.get(k, 0.0) for k, w in rank_weights.items())
            feats["rank"] = rank
            result.append(Candidate(entry=self.entries[ei], features=feats, rank=rank))
        result.sort(key=lambda c: c.rank, reverse=True)
        char_best = max(result, key=lambda c: c.features["centroid"]) if result else None
        bm25_best = max(result, key=lambda c: c.features["bm25"]) if result else None
        chars = sorted((c.features["char"] for c in result), reverse=True)
        gap23 = result[1].rank - result[2].rank if len(result) > 2 else (
            result[1].rank if len(result) == 2 else 0.0)
        for i, cand in enumerate(result):
            cand.features["gap23"] = gap23
            runner_up = result[1].rank if i == 0 and len(result) > 1 else (
                result[0].rank if i > 0 else 0.0
            )
            cand.features["margin"] = cand.rank - runner_up
            cand.features["unknown_frac"] = unknown_frac
            cand.features["length"] = math.log1p(len(tokens))
            cand.features["char_agree"] = float(cand is char_best)
            cand.features["bm25_agree"] = float(cand is bm25_best)
            second_char = chars[1] if len(chars) > 1 else 0.0
            cand.features["char_margin"] = cand.features["char"] - (
                second_char if cand.features["char"] >= chars[0] else chars[0]
            )
        return result, unknown_frac

    def confidence(self, features: dict[str, float]) -> float:
        weights = self.model["weights"]
        z = self.model["bias"] + sum(w * features.get(name, 0.0) for name, w in weights.items())
        return sigmoid(z)

    # -- decision ------------------------------------------------------------------------------
    def match(self, text: str, exclude_variants: set[int] | None = None) -> MatchResult:
        query = analyze(text)
        if not query.tokens:
            return MatchResult(Status.UNKNOWN, Reason.NO_CONTENT, query)
        covered, unknown = self.resolve_keys(query.doc_keys)
        if query.doc_keys and not covered:
            return MatchResult(Status.UNKNOWN, Reason.OTHER_DOCUMENT, query, unknown_keys=unknown)
        overview_of = self.overview_document(query, covered)
        if overview_of is not None:
            entry = self.kb.overview_entry(overview_of)
            return MatchResult(Status.ANSWERED, Reason.OVERVIEW, query, entry=entry, score=1.0)
        if not exclude_variants:
            exact = self._exact.get(query.folded)
            exact_entries = {self._variants[vi].entry_idx for vi in exact or ()}
            if len(exact_entries) == 1:
                entry = self.entries[exact_entries.pop()]
                return MatchResult(Status.ANSWERED, Reason.EXACT, query, entry=entry, score=1.0)
        cands, _ = self.candidates(query, exclude_variants)
        if not cands:
            return MatchResult(Status.UNKNOWN, Reason.LOW_CONFIDENCE, query)
        top = cands[0]
        p = self.confidence(top.features)
        if p >= self.model["tau_answer"]:
            return MatchResult(
                Status.ANSWERED, Reason.MATCH, query, entry=top.entry, score=p, candidates=cands
            )
        suggestions = [c.entry for c in cands[:3]]
        if p >= self.model["tau_suggest"]:
            # two entries both fit and the rest are far behind: ask "A or B?" with two buttons
            clarify = len(cands) >= 2 and float(top.features.get("gap23", 0.0)) >= self.model.get(
                "clarify_gap", 1e9)
            return MatchResult(
                Status.SUGGESTED,
                Reason.LOW_CONFIDENCE,
                query,
                score=p,
                suggestions=suggestions[:2] if clarify else suggestions,
                candidates=cands,
                clarify=clarify,
            )
        return MatchResult(
            Status.UNKNOWN, Reason.LOW_CONFIDENCE, query, score=p, candidates=cands
        )

    def wording(self, variant_index: int) -> str:
        return self._variants[variant_index].text

    def variant_indices(self, entry_id: str) -> list[int]:
        index = next(i for i, e in enumerate(self.entries) if e.id == entry_id)
        return list(self._entry_variants[index])


def load_model(kb_version: str | None = None, path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    """The calibrated confidence model, or the conservative default when none is stored."""
    if not path.exists():
        return dict(_DEFAULT_MODEL)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    model = dict(_DEFAULT_MODEL)
    keys = ("rank_weights", "weights", "bias", "tau_answer", "tau_suggest", "clarify_gap")
    model.update({k: data[k] for k in keys if k in data})
    model["kb_version"] = data.get("kb_version")
    return model
