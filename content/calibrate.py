"""Fit the matcher's confidence model and its answer/suggest thresholds.

Calibration data (never the benchmark's test set):
* leave-one-out over the knowledge base: each phrasing is asked with that wording removed from
  the index, so the entry must be found through its other wordings;
* the labelled development set `content/calibration/dev.yaml`: user-style questions with their
  expected entries, and out-of-scope questions (which must not be answered).

The ranker (weights of the per-candidate features) is a pointwise logistic model fitted on both.
The confidence model, fitted on the development set, predicts "the top candidate is right".
`tau_answer` is the lowest confidence at which answered questions are right at least
`TARGET_PRECISION` of the time (Wilson lower bound at least `MIN_WILSON`) and at most
`MAX_OOS_ANSWERED` of the out-of-scope questions are answered. `tau_suggest` is the lowest
confidence below that at which suggestions still contain the right entry often enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from content.kb import KnowledgeBase
from content.matcher import CALIBRATION_FILE, FEATURES, RANK_FEATURES, Matcher

DEV_FILE = Path(__file__).resolve().parent / "calibration" / "dev.yaml"
MAX_WRONG = 0.01  # wrong answers, as a share of the development set's in-scope questions
MAX_OOS_ANSWERED = 0.04  # the development set's out-of-scope questions are deliberately near
SUGGEST_HIT_RATE = 0.65
DEV_WEIGHT = 3.0  # a development question counts as much as three leave-one-out phrasings
OOS_WEIGHT = 20.0  # an out-of-scope development question weighs 20: few, and costly if answered
CLARIFY_TOP2_RATE = 0.9  # ask "A or B?" where the right entry is one of two this often


@dataclass
class Sample:
    features: dict[str, float]
    in_scope: bool
    correct: bool  # top-1 is an expected entry
    top3: bool  # an expected entry is among the top 3
    origin: str  # "loo" | "dev" | "dev-oos"
    top2: bool = False  # an expected entry is among the top 2


def load_labelled(path: Path) -> tuple[list[tuple[str, set[str]]], list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    in_scope = [(item["q"], set(item["expect"])) for item in data.get("in_scope") or []]
    oos = [item["q"] for item in data.get("out_of_scope") or []]
    return in_scope, oos


def _sample(matcher: Matcher, text: str, expect: set[str], origin: str,
            exclude: set[int] | None = None) -> Sample | None:
    from content.normalize import analyze

    query = analyze(text)
    if not query.tokens:
        return None
    covered, _ = matcher.resolve_keys(query.doc_keys)
    if query.doc_keys and not covered:
        return None  # refused by the hard rule; nothing to calibrate
    cands, _ = matcher.candidates(query, exclude)
    if not cands:
        return None
    ids = [c.entry.id for c in cands[:3]]
    return Sample(
        features=cands[0].features,
        in_scope=bool(expect),
        correct=bool(expect) and ids[0] in expect,
        top3=bool(expect & set(ids)),
        top2=bool(expect & set(ids[:2])),
        origin=origin,
    )


Query = tuple[str, set[str], str, "set[int] | None"]


def calibration_queries(matcher: Matcher, dev_path: Path = DEV_FILE) -> list[Query]:
    """(text, expected entry ids, origin, excluded wordings) for every calibration question."""
    queries: list[Query] = []
    for entry in matcher.entries:
        for vi in matcher.variant_indices(entry.id)[1:]:  # every phrasing, not the question
            queries.append((matcher.wording(vi), {entry.id}, "loo", {vi}))
    if dev_path.exists():
        in_scope, oos = load_labelled(dev_path)
        queries += [(text, expect, "dev", None) for text, expect in in_scope]
        queries += [(text, set(), "dev-oos", None) for text in oos]
    return queries


def collect_samples(matcher: Matcher, queries: list[Query]) -> list[Sample]:
    samples = [_sample(matcher, text, expect, origin, exclude)
               for text, expect, origin, exclude in queries]
    return [s for s in samples if s is not None]


def fit_ranker(matcher: Matcher, queries: list[Query]) -> dict[str, float]:
    """Pointwise logistic ranking: which candidate of an in-scope question is the right one."""
    from content.normalize import analyze

    rows: list[list[float]] = []
    labels: list[float] = []
    for text, expect, _origin, exclude in queries:
        if not expect:
            continue
        cands, _ = matcher.candidates(analyze(text), exclude)
        if not any(c.entry.id in expect for c in cands):
            continue
        for c in cands:
            rows.append([c.features.get(f, 0.0) for f in RANK_FEATURES])
            labels.append(1.0 if c.entry.id in expect else 0.0)
    w, _ = fit_logistic(np.array(rows), np.array(labels), l2=0.001)
    return {name: round(float(v), 6) for name, v in zip(RANK_FEATURES, w, strict=True)}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 4000,
                 lr: float = 0.5, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    sw = np.ones(len(y)) if weights is None else weights / weights.mean()
    mu = x.mean(axis=0)
    sigma = x.std(axis=0)
    sigma[sigma == 0] = 1.0
    z = (x - mu) / sigma
    w = np.zeros(z.shape[1])
    b = 0.0
    n = len(y)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        grad_w = z.T @ (sw * (p - y)) / n + l2 * w
        grad_b = float(np.mean(sw * (p - y)))
        w -= lr * grad_w
        b -= lr * grad_b
    raw_w = w / sigma
    raw_b = b - float(np.sum(w * mu / sigma))
    return raw_w, raw_b


def wilson_lower(successes: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    phat = successes / n
    denom = 1 + z * z / n
    centre = phat + z * z / (2 * n)
    margin = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return (centre - margin) / denom


def choose_thresholds(probs: np.ndarray, samples: list[Sample]) -> tuple[float, float, dict]:
    """The lowest answer threshold at which wrong answers stay within MAX_WRONG of the
    development questions and few out-of-scope ones are answered; the suggest threshold below.
    (Two-fold cross-validation over the development set chose these rules; see
    benchmarks/README.md.)"""
    correct = np.array([s.correct for s in samples])
    oos = np.array([s.origin == "dev-oos" for s in samples])
    loo = np.array([s.origin == "loo" for s in samples])
    dev = np.array([s.origin == "dev" for s in samples])
    top3 = np.array([s.top3 for s in samples])
    n_oos, n_dev = int(oos.sum()), int(dev.sum())
    tau_answer = 0.99
    for tau in sorted(set(np.round(probs, 4).tolist())):
        answered = probs >= tau
        wrong = (answered & dev & ~correct).sum() / n_dev if n_dev else 0.0
        oos_rate = (answered & oos).sum() / n_oos if n_oos else 0.0
        if wrong <= MAX_WRONG and oos_rate <= MAX_OOS_ANSWERED:
            tau_answer = float(tau)
            break
    tau_suggest = tau_answer
    for tau in sorted(set(np.round(probs, 4).tolist())):
        if tau >= tau_answer:
            break
        band = (probs >= tau) & (probs < tau_answer) & ~loo
        if band.sum() and (band & top3).sum() / band.sum() >= SUGGEST_HIT_RATE:
            tau_suggest = float(tau)
            break
    answered = probs >= tau_answer
    stats = {
        "samples": len(samples),
        "loo_samples": int(loo.sum()),
        "loo_answered": int((answered & loo).sum()),
        "loo_answered_correct": int((answered & loo & correct).sum()),
        "dev_samples": int(dev.sum()),
        "dev_answered": int((answered & dev).sum()),
        "dev_answered_correct": int((answered & dev & correct).sum()),
        "oos_samples": n_oos,
        "oos_answered": int((answered & oos).sum()),
    }
    return tau_answer, tau_suggest, stats


def choose_clarify_gap(samples: list[Sample], probs: np.ndarray, tau_suggest: float,
                       tau_answer: float) -> float:
    """Smallest lead of the second candidate over the third at which, among suggested
    questions, the right entry is one of the first two at least CLARIFY_TOP2_RATE of the time."""
    band = [(s.features.get("gap23", 0.0), s.top2) for s, p in zip(samples, probs, strict=True)
            if s.origin == "dev" and tau_suggest <= p < tau_answer]
    for gap in sorted({round(g, 3) for g, _ in band}):
        chosen = [hit for g, hit in band if g >= gap]
        if len(chosen) >= 10 and sum(chosen) / len(chosen) >= CLARIFY_TOP2_RATE:
            return float(gap)
    return 1e9


def calibrate(kb: KnowledgeBase, dev_path: Path = DEV_FILE) -> dict[str, Any]:
    matcher = Matcher(kb, model={"weights": {}, "bias": 0.0, "tau_answer": 1, "tau_suggest": 1})
    queries = calibration_queries(matcher, dev_path)
    rank_weights = fit_ranker(matcher, queries)
    matcher.model["rank_weights"] = rank_weights
    samples = collect_samples(matcher, queries)
    # The confidence model learns from both kinds of question a new wording stands for: the
    # leave-one-out phrasings (many, written by separate authors in members' style) and the
    # development questions (fewer, weighted more).
    names = list(FEATURES)
    x = np.array([[s.features.get(f, 0.0) for f in names] for s in samples])
    y = np.array([1.0 if s.correct else 0.0 for s in samples])
    sample_weights = np.array([
        {"loo": 1.0, "dev": DEV_WEIGHT, "dev-oos": OOS_WEIGHT}[s.origin] for s in samples
    ])
    w, b = fit_logistic(x, y, weights=sample_weights)
    probs = 1 / (1 + np.exp(-(x @ w + b)))
    tau_answer, tau_suggest, stats = choose_thresholds(probs, samples)
    clarify_gap = choose_clarify_gap(samples, probs, tau_suggest, tau_answer)
    return {
        "kb_version": kb.version,
        "rank_weights": rank_weights,
        "weights": {name: round(float(v), 6) for name, v in zip(names, w, strict=True)},
        "bias": round(float(b), 6),
        "tau_answer": round(tau_answer, 4),
        "tau_suggest": round(tau_suggest, 4),
        "clarify_gap": round(clarify_gap, 4),
        "stats": stats,
    }


def write_model(model: dict[str, Any], path: Path = CALIBRATION_FILE) -> None:
    header = (
        "# Written by `nqbot content calibrate`; do not edit by hand.\n"
        "# Confidence model and thresholds of the matcher, valid for the knowledge-base version\n"
        "# below. Re-run the command after any change to content/kb/.\n"
    )
    path.write_text(header + yaml.safe_dump(model, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
