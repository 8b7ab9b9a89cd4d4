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
)
# Features of the top candidate used by the confidence model.
FEATURES = (*RANK_FEATURES, "margin", "unknown_frac", "length", "rank")
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
}


class Status(StrEnum):
    ANSWERED = "answered"
    SUGGESTED = "suggested"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    MATCH = "match"
    EXACT = "exact"
    LOW_CONFIDENCE = "low_confidence"
    NO_CONTENT = "no_content"
    OTHER_DOCUMENT = "other_document"


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


def _terms(a: Analyzed) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for t in (*a.tokens, *a.bigrams):
        counts[t] += 1
    return dict(counts)


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
            answer = analyze(entry.answer)
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
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for vi, v in enumerate(self._variants):
            for t, tf in v.terms.items():
                self._postings[t].append((vi, tf))
        self._variant_entry = np.array([v.entry_idx for v in self._variants], dtype=np.int64)
        self._variant_norm = np.array(
            [K1 * (1 - B + B * v.length / self._avg_len) for v in self._variants]
        )
        self._folded_variants = [v.folded for v in self._variants]
        self._entry_variants: list[list[int]] = [[] for _ in self.entries]
        for vi, v in enumerate(self._variants):
            self._entry_variants[v.entry_idx].append(vi)
        self.model = model or load_model(kb.version)

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
            hit = process.extractOne(
                tok, self.vocab, scorer=Levenshtein.distance, score_cutoff=cutoff
            )
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
    def _bm25(self, terms: dict[str, int], excluded: set[int]) -> np.ndarray:
        scores = np.zeros(len(self._variants))
        for t in terms:
            idf = self.idf.get(t)
            if idf is None:
                continue
            for vi, tf in self._postings[t]:
                scores[vi] += idf * tf * (K1 + 1) / (tf + self._variant_norm[vi])
        if excluded:
            scores[list(excluded)] = 0.0
        return scores

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
        q_mass = sum(self._idf(t) for t in q_tokens) or 1.0
        q_self = sum(self.idf.get(t, 0.0) for t in terms) * (K1 + 1) / (1 + K1) or 1.0

        bm25 = self._bm25(terms, excluded)
        tsr = process.cdist(
            [snapped.folded], self._folded_variants, scorer=fuzz.token_sort_ratio, workers=1
        )[0].astype(float)
        if excluded:
            tsr[list(excluded)] = 0.0
        # best variant score per entry for both channels, then the union of the top entries
        n = len(self.entries)
        bm25_entry = np.zeros(n)
        np.maximum.at(bm25_entry, self._variant_entry, bm25)
        tsr_entry = np.zeros(n)
        np.maximum.at(tsr_entry, self._variant_entry, tsr)
        pool = set(np.argsort(-bm25_entry)[:limit].tolist()) | set(
            np.argsort(-tsr_entry)[:15].tolist()
        )
        bags = list(self._bags)
        for vi in excluded:  # leave-one-out: the held-out wording must not leak into its bag
            ei = self._variants[vi].entry_idx
            bags[ei] = frozenset().union(*(
                self._variants[other].token_set
                for other in self._entry_variants[ei]
                if other not in excluded
            ))
        bag_cov = np.array([
            sum(self._idf(t) for t in q_tokens & bag) / q_mass for bag in bags
        ])
        ans_cov = np.array([
            sum(self._idf(t) for t in q_tokens & ans) / q_mass for ans in self._answer_tokens
        ])
        pool |= set(np.argsort(-bag_cov)[:10].tolist()) | set(np.argsort(-ans_cov)[:10].tolist())
        pool = {i for i in pool if bm25_entry[i] > 0 or tsr_entry[i] > 0 or ans_cov[i] > 0}

        covered_keys, _ = self.resolve_keys(query.doc_keys)
        by_entry: dict[int, list[int]] = defaultdict(list)
        for vi, v in enumerate(self._variants):
            if v.entry_idx in pool and vi not in excluded:
                by_entry[v.entry_idx].append(vi)

        rank_weights = self.model.get("rank_weights") or DEFAULT_RANK_WEIGHTS
        result: list[Candidate] = []
        for ei in pool:
            vis = by_entry.get(ei, [])
            feats = {"qcov": 0.0, "vcov": 0.0, "tsr": 0.0, "bm25": 0.0, "bicov": 0.0}
            for vi in vis:
                v = self._variants[vi]
                common = q_tokens & v.token_set
                common_mass = sum(self._idf(t) for t in common)
                v_mass = sum(self._idf(t) for t in v.token_set) or 1.0
                feats["qcov"] = max(feats["qcov"], common_mass / q_mass)
                feats["vcov"] = max(feats["vcov"], common_mass / v_mass)
                feats["tsr"] = max(feats["tsr"], tsr[vi] / 100.0)
                feats["bm25"] = max(feats["bm25"], min(1.5, bm25[vi] / q_self))
                if q_bigrams:
                    overlap = len(q_bigrams & v.bigram_set) / len(q_bigrams)
                    feats["bicov"] = max(feats["bicov"], overlap)
            entry_keys = self._entry_keys[ei]
            agree = bool(covered_keys & entry_keys)
            feats["qcov_bag"] = float(bag_cov[ei])
            feats["qcov_ans"] = float(ans_cov[ei])
            feats["key_agree"] = float(agree)
            feats["key_disagree"] = float(bool(covered_keys) and not agree)
            known = bags[ei] | self._answer_tokens[ei]
            feats["qcov_all"] = sum(self._idf(t) for t in q_tokens & known) / q_mass
            # a number the question names (a year, a count) that no wording of the entry has;
            # answers are not used here, since they mention the other year to warn ("đừng nhầm")
            feats["num_miss"] = (
                sum(1 for n in q_numbers if n not in bags[ei]) / len(q_numbers)
                if q_numbers else 0.0
            )
            rank = sum(w * feats.get(k, 0.0) for k, w in rank_weights.items())
            feats["rank"] = rank
            result.append(Candidate(entry=self.entries[ei], features=feats, rank=rank))
        result.sort(key=lambda c: c.rank, reverse=True)
        for i, cand in enumerate(result):
            runner_up = result[1].rank if i == 0 and len(result) > 1 else (
                result[0].rank if i > 0 else 0.0
            )
            cand.features["margin"] = cand.rank - runner_up
            cand.features["unknown_frac"] = unknown_frac
            cand.features["length"] = math.log1p(len(tokens))
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
            return MatchResult(
                Status.SUGGESTED,
                Reason.LOW_CONFIDENCE,
                query,
                score=p,
                suggestions=suggestions,
                candidates=cands,
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
    keys = ("rank_weights", "weights", "bias", "tau_answer", "tau_suggest")
    model.update({k: data[k] for k in keys if k in data})
    model["kb_version"] = data.get("kb_version")
    return model
