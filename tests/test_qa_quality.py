"""Quality floor on both evaluation sets (never used for calibration): a change that answers fewer
questions right, or more wrong, than the figures recorded in benchmarks/README.md fails here.
Speed is measured by benchmarks/qa_eval.py and benchmarks/qa_scale.py, not here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_qa
from bot.config import Settings
from bot.services.evaluation import evaluate, load_questions, matcher_decider

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
# Recorded figures (benchmarks/README.md, 2026-12-01), rounded down/up by half a point.
FLOOR = {
    "qa_eval.yaml": {"right": 0.885, "wrong": 0.015, "oos": 0.03},
    "qa_heldout.yaml": {"right": 0.865, "wrong": 0.02, "oos": 0.01, "small_talk": 0.95,
                        "overview": 0.85},
}


@pytest.fixture(scope="module")
def service():
    return build_qa(Settings(_env_file=None))


@pytest.fixture(scope="module", params=sorted(FLOOR))
def measured(request, service):
    in_scope, oos = load_questions(DATA / request.param, service.kb)
    return request.param, evaluate(matcher_decider(service), in_scope, oos)


def test_answered_right_does_not_drop_and_wrong_answers_do_not_rise(measured):
    name, report = measured
    s = report.in_scope["all"]
    assert s.answered_correct / s.n >= FLOOR[name]["right"]
    assert s.answered_wrong / s.n <= FLOOR[name]["wrong"]
    for slice_name in ("accented", "unaccented"):
        part = report.in_scope[slice_name]
        assert part.answered_wrong / part.n <= FLOOR[name]["wrong"] + 0.01, slice_name


def test_out_of_scope_questions_are_not_answered(measured):
    name, report = measured
    s = report.oos["all"]
    assert s.answered / s.n <= FLOOR[name]["oos"]


def test_small_talk_and_overview_questions(measured):
    name, report = measured
    if "small_talk" in FLOOR[name]:
        s = report.oos["small_talk"]
        assert s.small_talk / s.n >= FLOOR[name]["small_talk"]
        assert s.answered == 0
    if "overview" in FLOOR[name]:
        s = report.in_scope["overview"]
        assert s.answered_correct / s.n >= FLOOR[name]["overview"]
