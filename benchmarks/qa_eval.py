"""Q&A evaluation: accuracy, refusals and latency of the matcher against a naive baseline.

Usage:  python benchmarks/qa_eval.py [--set benchmarks/data/qa_eval.yaml] [--json out.json]

The labelled set was written for this benchmark, separately from the knowledge base's
phrasings, and is never used for calibration (that uses content/calibration/dev.yaml).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_qa  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.services.evaluation import (  # noqa: E402
    Report,
    baseline_decider,
    evaluate,
    load_questions,
    matcher_decider,
)

DEFAULT_SET = ROOT / "benchmarks" / "data" / "qa_eval.yaml"


def summary(report: Report) -> dict:
    out: dict = {"in_scope": {}, "out_of_scope": {}}
    for name, s in report.in_scope.items():
        out["in_scope"][name] = {
            "n": s.n,
            "top1_accuracy": round(s.pct(s.top1_correct), 1),
            "answered_correct": round(s.pct(s.answered_correct), 1),
            "wrong_answer_rate": round(s.pct(s.answered_wrong), 1),
            "answer_rate": round(s.pct(s.answered), 1),
            "suggested_with_right_entry": round(s.pct(s.suggested_hit), 1),
        }
    for name, s in report.oos.items():
        out["out_of_scope"][name] = {"n": s.n, "answered": round(s.pct(s.answered), 1)}
    out["latency_ms"] = {"p50": round(report.p50, 2), "p95": round(report.latency(0.95), 2)}
    return out


def print_table(title: str, data: dict) -> None:
    print(f"\n== {title}")
    print(f"{'in-scope slice':<12} {'n':>4} {'top-1':>7} {'ans.ok':>7} {'wrong':>6} "
          f"{'answered':>8} {'sugg.ok':>7}")
    for name in ("all", "accented", "unaccented"):
        s = data["in_scope"].get(name)
        if s:
            print(f"{name:<12} {s['n']:>4} {s['top1_accuracy']:>6.1f}% "
                  f"{s['answered_correct']:>6.1f}% {s['wrong_answer_rate']:>5.1f}% "
                  f"{s['answer_rate']:>7.1f}% {s['suggested_with_right_entry']:>6.1f}%")
    print(f"{'out-of-scope':<12} {'n':>4} {'answered (false answers)':>26}")
    for name in ("all", "accented", "unaccented", "near", "far"):
        s = data["out_of_scope"].get(name)
        if s:
            print(f"{name:<12} {s['n']:>4} {s['answered']:>25.1f}%")
    lat = data["latency_ms"]
    print(f"latency per question: p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    service = build_qa(Settings(_env_file=None))
    in_scope, oos = load_questions(args.set)
    decide = matcher_decider(service)
    for q in in_scope[:20]:  # warm caches so latency reflects steady state
        decide(q.text)
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        "kb_version": service.kb.version,
        "questions": {"in_scope": len(in_scope), "out_of_scope": len(oos)},
        "matcher": summary(evaluate(decide, in_scope, oos)),
        "baseline_extractOne_WRatio_cutoff80": summary(
            evaluate(baseline_decider(service.kb), in_scope, oos)
        ),
    }
    print(f"Knowledge base {results['kb_version']}: {len(service.kb.entries)} entries; "
          f"{len(in_scope)} in-scope and {len(oos)} out-of-scope questions")
    print(f"Machine: {results['machine']}")
    print_table("matcher (answer / suggest / refuse)", results["matcher"])
    print_table("baseline: rapidfuzz.process.extractOne, WRatio, answer if score >= 80",
                results["baseline_extractOne_WRatio_cutoff80"])
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
