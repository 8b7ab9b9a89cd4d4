"""Q&A evaluation: the bot's matcher against real peers on the same questions, every slice.

Usage:
  python benchmarks/qa_eval.py                       # both sets, the matcher and the peers
  python benchmarks/qa_eval.py --set F [--set G]     # other sets
  python benchmarks/qa_eval.py --no-peers --json out.json

Sets (never used for calibration, which uses content/calibration/dev.yaml):
* benchmarks/data/qa_eval.yaml    — the first evaluation set;
* benchmarks/data/qa_heldout.yaml — written by a separate author from the canonical questions
  only, frozen (committed) before the matcher of issue 11 was changed.
Peers (benchmark-only dependencies, `pip install -e '.[bench]'`): rapidfuzz `extractOne`, BM25
from `bm25s`, character n-gram TF-IDF with a linear SVM from scikit-learn; each gets its best
threshold for ≤ 1.5% wrong answers, chosen on the set itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bot.app import build_qa  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.services.evaluation import (  # noqa: E402
    Report,
    evaluate,
    load_questions,
    matcher_decider,
)

DATA = ROOT / "benchmarks" / "data"
DEFAULT_SETS = [DATA / "qa_eval.yaml", DATA / "qa_heldout.yaml"]
SLICES = ("all", "accented", "unaccented", "overview", "short", "typo", "abbrev", "filler",
          "colloquial")


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
        out["out_of_scope"][name] = {"n": s.n, "answered": round(s.pct(s.answered), 1),
                                     "small_talk_reply": round(s.pct(s.small_talk), 1)}
    out["latency_ms"] = {"p50": round(report.p50, 2), "p95": round(report.latency(0.95), 2)}
    return out


def print_matcher(data: dict) -> None:
    print(f"{'in-scope slice':<14} {'n':>4} {'top-1':>7} {'ans.ok':>7} {'wrong':>6} "
          f"{'answered':>8} {'sugg.ok':>7}")
    for name in SLICES:
        s = data["in_scope"].get(name)
        if s:
            print(f"{name:<14} {s['n']:>4} {s['top1_accuracy']:>6.1f}% "
                  f"{s['answered_correct']:>6.1f}% {s['wrong_answer_rate']:>5.1f}% "
                  f"{s['answer_rate']:>7.1f}% {s['suggested_with_right_entry']:>6.1f}%")
    print(f"{'out-of-scope':<14} {'n':>4} {'answered':>9} {'small-talk reply':>17}")
    for name in ("all", "accented", "unaccented", "near", "far", "small_talk"):
        s = data["out_of_scope"].get(name)
        if s:
            print(f"{name:<14} {s['n']:>4} {s['answered']:>8.1f}% {s['small_talk_reply']:>16.1f}%")
    lat = data["latency_ms"]
    print(f"latency per question: p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms")


def run_peers(kb, in_scope, oos) -> dict:  # type: ignore[no-untyped-def]
    from peers import PEERS, best_threshold

    results = {}
    for name, build in PEERS.items():
        scorer = build(kb)
        scored_in = [(*scorer(q.text), q.expect) for q in in_scope]
        scored_oos = [scorer(q.text) for q in oos]
        results[name] = best_threshold(scored_in, scored_oos).as_dict()
    return results


def print_peers(peers: dict, matcher: dict) -> None:
    print(f"{'matcher / peer':<48} {'top-1':>7} {'ans.ok':>7} {'wrong':>6} {'oos ans.':>8}")
    m_in, m_oos = matcher["in_scope"]["all"], matcher["out_of_scope"]["all"]
    print(f"{'bot matcher (answer / suggest / refuse)':<48} {m_in['top1_accuracy']:>6.1f}% "
          f"{m_in['answered_correct']:>6.1f}% {m_in['wrong_answer_rate']:>5.1f}% "
          f"{m_oos['answered']:>7.1f}%")
    for name, r in peers.items():
        print(f"{name:<48} {r['top1_accuracy']:>6.1f}% {r['answered_correct']:>6.1f}% "
              f"{r['wrong_answer_rate']:>5.1f}% {r['oos_answered']:>7.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, action="append", dest="sets")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()

    service = build_qa(Settings(_env_file=None))
    kb = service.kb
    decide = matcher_decider(service)
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        "kb_version": kb.version,
        "entries": len(kb.entries),
        "sets": {},
    }
    print(f"Knowledge base {kb.version}: {len(kb.entries)} entries, "
          f"{sum(len(e.variants) for e in kb.entries.values())} wordings")
    print(f"Machine: {results['machine']}")
    for path in args.sets or DEFAULT_SETS:
        in_scope, oos = load_questions(path, kb)
        for q in in_scope[:20]:  # warm caches so latency reflects steady state
            decide(q.text)
        matcher = summary(evaluate(decide, in_scope, oos))
        entry = {"questions": {"in_scope": len(in_scope), "out_of_scope": len(oos)},
                 "matcher": matcher}
        print(f"\n== {path.name}: {len(in_scope)} in-scope, {len(oos)} out-of-scope "
              f"(small talk included)")
        print_matcher(matcher)
        if not args.no_peers:
            non_chat = [q for q in oos if q.kind != "small_talk"]
            entry["peers"] = run_peers(kb, in_scope, non_chat)
            print("\n-- peers on the same questions (each at its best threshold for ≤ 1.5% wrong)")
            print_peers(entry["peers"], matcher)
        results["sets"][path.name] = entry
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
