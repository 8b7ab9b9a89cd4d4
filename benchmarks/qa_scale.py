"""Matcher at scale: a synthetic knowledge base of 1,000 and 10,000 entries built from the real one.

Usage:  python benchmarks/qa_scale.py [--sizes 1000,10000] [--questions 400]

Each synthetic entry is a real entry whose every wording (question, phrasings, answer) gets a
variation: one content syllable replaced by another syllable of the real vocabulary and a
distinguishing place name ("ở Đơn vị 17"), so the index grows like a real one (new terms, longer
postings) rather than repeating identical rows. The held-out questions are then asked against it.
Prints the index build time, the memory the index takes (RSS growth) and latency percentiles.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bot.services.evaluation import load_questions  # noqa: E402
from content.kb import KnowledgeBase, default_kb  # noqa: E402
from content.matcher import Matcher, load_model  # noqa: E402

HELD_OUT = ROOT / "benchmarks" / "data" / "qa_heldout.yaml"


def synthetic_kb(kb: KnowledgeBase, size: int, seed: int = 7) -> KnowledgeBase:
    rng = random.Random(seed)
    real = list(kb.entries.values())
    vocab = sorted({w for e in real for w in e.question.split() if len(w) > 2})
    entries = dict(kb.entries)
    k = 0
    while len(entries) < size:
        base = real[k % len(real)]
        k += 1

        def vary(text: str, k: int = k) -> str:
            words = text.split()
            if len(words) > 3:
                words[rng.randrange(len(words))] = rng.choice(vocab)
            return " ".join(words) + f" ở Đơn vị {k}"

        entries[f"{base.id}-x{k}"] = replace(
            base,
            id=f"{base.id}-x{k}",
            question=vary(base.question),
            phrasings=tuple(vary(p) for p in base.phrasings),
            answer=vary(base.answer),
        )
    return replace(kb, entries=entries, version=f"synthetic-{size}")


def measure(kb: KnowledgeBase, questions: list[str]) -> dict[str, float]:
    gc.collect()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    started = time.perf_counter()
    matcher = Matcher(kb, model=load_model())
    build = time.perf_counter() - started
    rss_after = process.memory_info().rss
    for q in questions[:20]:
        matcher.match(q)
    times = []
    for q in questions:
        t0 = time.perf_counter()
        matcher.match(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "entries": len(kb.entries),
        "wordings": sum(len(e.variants) for e in kb.entries.values()),
        "build_s": build,
        "index_mb": (rss_after - rss_before) / 2**20,
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "max_ms": times[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args()
    kb = default_kb()
    in_scope, oos = load_questions(HELD_OUT, kb)
    questions = [q.text for q in in_scope + oos][: args.questions]
    print(f"Machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; {len(questions)} held-out questions per size")
    print(f"{'entries':>8} {'wordings':>9} {'build s':>8} {'index MB':>9} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'max ms':>7}")
    sizes = [len(kb.entries), *(int(s) for s in args.sizes.split(","))]
    for size in sizes:
        r = measure(synthetic_kb(kb, size) if size > len(kb.entries) else kb, questions)
        print(f"{r['entries']:>8} {r['wordings']:>9} {r['build_s']:>8.2f} {r['index_mb']:>9.1f} "
              f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['max_ms']:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
