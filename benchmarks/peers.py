"""Peer matchers for benchmarks/qa_eval.py (benchmark-only dependencies: bm25s, scikit-learn).

Each peer indexes the same wordings as the bot (every entry's question and phrasings, after the
same Vietnamese normalisation) and returns its top entry with a score. Peers only answer or
refuse; `best_threshold` gives each its best cut-off for at most 1.5% wrong answers, chosen on
the very set it is measured on (an advantage the bot's matcher does not get).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process, utils

from content.kb import KnowledgeBase
from content.normalize import analyze

Scorer = Callable[[str], tuple[str | None, float]]


def _wordings(kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    owners: list[str] = []
    for entry in kb.entries.values():
        for wording in entry.variants:
            texts.append(wording)
            owners.append(entry.id)
    return texts, owners


def extract_one(kb: KnowledgeBase) -> Scorer:
    """`rapidfuzz.process.extractOne` (WRatio) over every wording, raw text."""
    texts, owners = _wordings(kb)

    def score(question: str) -> tuple[str | None, float]:
        hit = process.extractOne(question, texts, processor=utils.default_process)
        return (owners[hit[2]], float(hit[1])) if hit else (None, 0.0)

    return score


def bm25(kb: KnowledgeBase) -> Scorer:
    """BM25 (the `bm25s` library) over folded syllables of every wording; best wording wins."""
    import bm25s

    texts, owners = _wordings(kb)
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in analyze(t).tokens] or [0] for t in texts]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def score(question: str) -> tuple[str | None, float]:
        query = [vocab[t] for t in analyze(question).tokens if t in vocab]
        if not query:
            return None, 0.0
        docs, scores = retriever.retrieve([query], k=1, show_progress=False)
        return owners[int(docs[0][0])], float(scores[0][0])

    return score


def tfidf_linear(kb: KnowledgeBase) -> Scorer:
    """Character n-gram TF-IDF (2–4, word-bounded, folded text) and a linear SVM over entries."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    texts, owners = _wordings(kb)
    folded = [analyze(t).folded for t in texts]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    x = vectorizer.fit_transform(folded)
    model = LinearSVC(C=1.0)
    model.fit(x, owners)
    classes = model.classes_

    def score(question: str) -> tuple[str | None, float]:
        values = model.decision_function(vectorizer.transform([analyze(question).folded]))[0]
        best = int(np.argmax(values))
        return str(classes[best]), float(values[best])

    return score


PEERS: dict[str, Callable[[KnowledgeBase], Scorer]] = {
    "rapidfuzz extractOne (WRatio)": extract_one,
    "BM25 (bm25s)": bm25,
    "char n-gram TF-IDF + LinearSVC (scikit-learn)": tfidf_linear,
}


@dataclass
class PeerResult:
    threshold: float
    n_in: int
    top1: int
    answered_right: int
    answered_wrong: int
    n_oos: int
    oos_answered: int

    def as_dict(self) -> dict[str, float]:
        return {
            "threshold": round(self.threshold, 4),
            "top1_accuracy": round(100 * self.top1 / self.n_in, 1),
            "answered_correct": round(100 * self.answered_right / self.n_in, 1),
            "wrong_answer_rate": round(100 * self.answered_wrong / self.n_in, 1),
            "oos_answered": round(100 * self.oos_answered / max(1, self.n_oos), 1),
        }


def best_threshold(
    in_scope: list[tuple[str | None, float, frozenset[str]]],
    oos: list[tuple[str | None, float]],
    max_wrong: float = 0.015,
) -> PeerResult:
    """The cut-off with the most right answers while wrong answers stay ≤ max_wrong."""
    n_in = len(in_scope)
    top1 = sum(1 for top, _, expect in in_scope if top in expect)
    candidates = sorted({s for _, s, _ in in_scope} | {float("inf")})
    best: PeerResult | None = None
    for tau in candidates:
        right = sum(1 for top, s, expect in in_scope if s >= tau and top in expect)
        wrong = sum(1 for top, s, expect in in_scope if s >= tau and top not in expect)
        if wrong > max_wrong * n_in:
            continue
        oos_answered = sum(1 for _, s in oos if s >= tau)
        result = PeerResult(tau, n_in, top1, right, wrong, len(oos), oos_answered)
        if best is None or right > best.answered_right:
            best = result
    assert best is not None  # tau = inf always qualifies
    return best
