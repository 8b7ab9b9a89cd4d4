"""Replay of "Gán vào mục…" on the held-out set (issue 15): does teaching help, and is it safe?

Usage:  python benchmarks/learned_replay.py

The held-out in-scope questions the bot does not answer today (suggested or unknown) are split
in two by position (even / odd). The first half is taught as a báo cáo viên would: each
question, as the group it falls in, is assigned to its true entry (the first entry the set
expects) through the same code as the chat — `learned.prepare`, then the safety check
(`learned.check`: a wording is refused when another entry's own phrasing would be answered
differently, leave-one-out). The checks run against one matcher holding every proposed wording
(one build instead of one per wording), refused wordings are dropped and the final matcher is
built over the accepted ones with the calibrated model unchanged. Then the second half — never
taught — and the whole held-out set (in scope and out of scope) are asked before and after.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.services import learned  # noqa: E402
from bot.services.evaluation import Question, load_questions  # noqa: E402
from bot.services.qa import Outcome, QAService  # noqa: E402
from content.kb import default_kb  # noqa: E402
from content.matcher import Matcher  # noqa: E402

HELD_OUT = ROOT / "benchmarks" / "data" / "qa_heldout.yaml"


def tally(service: QAService, questions: list[Question]) -> tuple[int, int, int]:
    """(answered with an expected entry, answered wrongly, not answered)."""
    right = wrong = other = 0
    for q in questions:
        result = service.evaluate(q.text)
        if result.outcome is Outcome.ANSWERED and result.entry is not None:
            if result.entry.id in q.expect:
                right += 1
            else:
                wrong += 1
        else:
            other += 1
    return right, wrong, other


def main() -> int:
    kb = default_kb()
    base = Matcher(kb)
    before = QAService(kb, base, 2000)
    in_scope, out_of_scope = load_questions(HELD_OUT, kb)
    missed = [q for q in in_scope
              if before.evaluate(q.text).outcome in (Outcome.SUGGESTED, Outcome.UNKNOWN)]
    teach, test = missed[0::2], missed[1::2]
    print(f"Held-out set: {len(in_scope)} in scope, {len(out_of_scope)} out of scope; "
          f"{len(missed)} in scope not answered today → teach {len(teach)}, test {len(test)}")

    proposed: dict[str, list[str]] = {}
    for q in teach:
        entry_id = next((e for e in sorted(q.expect) if e in kb.entries), None)
        if entry_id is None:
            continue
        proposed.setdefault(entry_id, []).extend(
            learned.prepare([q.text], tuple(proposed.get(entry_id, ()))))
    started = time.perf_counter()
    everything = learned.build_matcher(base, {k: tuple(v) for k, v in proposed.items()})
    accepted: dict[str, tuple[str, ...]] = {}
    refused = []
    for entry_id, wordings in proposed.items():
        kept = []
        for wording in wordings:
            conflict = learned.check(base, everything, entry_id, [wording])
            if conflict is None:
                kept.append(wording)
            else:
                refused.append((wording, entry_id, conflict))
        if kept:
            accepted[entry_id] = tuple(kept)
    after = QAService(kb, learned.build_matcher(base, accepted), 2000)
    seconds = time.perf_counter() - started
    taught = sum(len(v) for v in accepted.values())
    print(f"Taught {taught} wordings to {len(accepted)} entries; refused by the safety check: "
          f"{len(refused)} ({seconds:.1f} s for the checks and both builds)")
    for wording, entry_id, conflict in refused[:5]:
        print(f"  refused «{wording}» → {entry_id}: would change {conflict.entry_id}")

    print()
    print("| questions | answered right (before → after) | answered wrong (before → after) |")
    print("|---|---|---|")
    for label, questions in (("test half (never taught)", test),
                             ("taught half", teach),
                             ("held-out in scope, all", in_scope)):
        r0, w0, _ = tally(before, questions)
        r1, w1, _ = tally(after, questions)
        print(f"| {label} ({len(questions)}) | {r0} → {r1} | {w0} → {w1} |")
    _, f0, _ = tally(before, out_of_scope)
    _, f1, _ = tally(after, out_of_scope)
    print(f"| held-out out of scope ({len(out_of_scope)}) | — | {f0} → {f1} (false answers) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
