"""Measure the matcher on a labelled question set (benchmarks/qa_eval.py and a regression test)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.services.qa import Outcome, QAService
from content.kb import KnowledgeBase
from content.normalize import has_diacritics


@dataclass
class Question:
    text: str
    expect: frozenset[str]  # empty for out-of-scope and small talk
    kind: str = ""  # out-of-scope: "near" | "far" | "small_talk"
    tags: tuple[str, ...] = ()  # in-scope: overview, short, typo, abbrev, filler, colloquial

    @property
    def accented(self) -> bool:
        return has_diacritics(self.text)

    def slices(self) -> tuple[str, ...]:
        own = tuple(t for t in self.tags if t not in ("accented", "unaccented"))
        return ("all", "accented" if self.accented else "unaccented", *own)


@dataclass
class Decision:
    status: str  # answered | suggested | unknown
    answer_id: str | None
    top1: str | None
    suggestions: tuple[str, ...] = ()


@dataclass
class Slice:
    n: int = 0
    top1_correct: int = 0
    answered: int = 0
    answered_correct: int = 0
    answered_wrong: int = 0
    suggested_hit: int = 0
    small_talk: int = 0

    def add(self, q: Question, d: Decision) -> None:
        self.n += 1
        self.top1_correct += d.top1 in q.expect
        if d.status == "answered":
            self.answered += 1
            if d.answer_id in q.expect:
                self.answered_correct += 1
            else:
                self.answered_wrong += 1
        elif d.status == "suggested" and q.expect & set(d.suggestions):
            self.suggested_hit += 1
        elif d.status == "small_talk":
            self.small_talk += 1

    def pct(self, value: int) -> float:
        return 100.0 * value / self.n if self.n else 0.0


@dataclass
class Report:
    in_scope: dict[str, Slice] = field(default_factory=dict)
    oos: dict[str, Slice] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def latency(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0


def _expected(kb: KnowledgeBase | None, ids: list[str]) -> frozenset[str]:
    """Entry ids; "overview:KEY" stands for the document's overview entry in the registry."""
    out: set[str] = set()
    for item in ids:
        if item.startswith("overview:"):
            entry = kb.overview_entry(item.split(":", 1)[1]) if kb else None
            out.add(entry.id if entry else item)
        else:
            out.add(item)
    return frozenset(out)


def load_questions(
    path: Path, kb: KnowledgeBase | None = None
) -> tuple[list[Question], list[Question]]:
    """In-scope questions, and out-of-scope ones (small talk among them, kind "small_talk")."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    in_scope = [
        Question(str(item["q"]), _expected(kb, list(item["expect"])),
                 tags=tuple(item.get("tags") or ()))
        for item in data.get("in_scope") or []
    ]
    oos = [
        Question(str(item["q"]), frozenset(), item.get("kind", "near"))
        for item in data.get("out_of_scope") or []
    ]
    oos += [Question(str(item["q"]), frozenset(), "small_talk")
            for item in data.get("small_talk") or []]
    return in_scope, oos


def matcher_decider(service: QAService) -> Callable[[str], Decision]:
    def decide(text: str) -> Decision:
        result = service.evaluate(text)
        match = result.match
        top1 = None
        if match is not None:
            if match.entry is not None:
                top1 = match.entry.id
            elif match.candidates:
                top1 = match.candidates[0].entry.id
        if result.outcome is Outcome.SMALL_TALK:
            return Decision("small_talk", None, None)
        if result.outcome is Outcome.ANSWERED and result.entry is not None:
            return Decision("answered", result.entry.id, top1)
        if result.outcome is Outcome.SUGGESTED and match is not None:
            return Decision("suggested", None, top1, tuple(e.id for e in match.suggestions))
        return Decision("unknown", None, top1)

    return decide


def evaluate(
    decide: Callable[[str], Decision], in_scope: list[Question], oos: list[Question]
) -> Report:
    report = Report()
    for q in in_scope:
        start = time.perf_counter()
        d = decide(q.text)
        report.latencies_ms.append((time.perf_counter() - start) * 1000)
        for name in q.slices():
            report.in_scope.setdefault(name, Slice()).add(q, d)
    for q in oos:
        start = time.perf_counter()
        d = decide(q.text)
        report.latencies_ms.append((time.perf_counter() - start) * 1000)
        names = ("all", "accented" if q.accented else "unaccented", q.kind)
        if q.kind == "small_talk":
            names = ("small_talk",)
        for name in names:
            report.oos.setdefault(name, Slice()).add(q, d)
    return report
