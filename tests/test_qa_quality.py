"""Quality guard on the held-out evaluation set (accuracy only; speed is measured by
benchmarks/qa_eval.py, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_qa
from bot.config import Settings
from bot.services.evaluation import evaluate, load_questions, matcher_decider

EVAL_SET = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "qa_eval.yaml"


@pytest.fixture(scope="module")
def report():
    service = build_qa(Settings(_env_file=None))
    in_scope, oos = load_questions(EVAL_SET)
    assert len(in_scope) >= 300 and len(oos) >= 150
    return evaluate(matcher_decider(service), in_scope, oos)


def test_right_entry_ranked_first_for_nine_in_ten(report):
    for name in ("all", "accented", "unaccented"):
        s = report.in_scope[name]
        assert s.top1_correct / s.n >= 0.90, name


def test_wrong_answers_stay_rare(report):
    s = report.in_scope["all"]
    assert s.answered_wrong / s.n <= 0.03


def test_out_of_scope_questions_are_not_answered(report):
    s = report.oos["all"]
    assert s.answered / s.n <= 0.05


def test_accented_and_unaccented_rank_alike(report):
    acc, unacc = report.in_scope["accented"], report.in_scope["unaccented"]
    assert abs(acc.top1_correct / acc.n - unacc.top1_correct / unacc.n) <= 0.03
