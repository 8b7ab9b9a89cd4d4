"""The knowledge base: lint, coverage, and facts that must never be wrong."""

from __future__ import annotations

import re

import pytest

from bot.app import build_qa
from bot.config import Settings
from content.kb import default_kb
from content.lint import run_checks


@pytest.fixture(scope="module")
def qa():
    return build_qa(Settings(_env_file=None))


def test_content_check_passes():
    report = run_checks()
    assert report.errors == []


def test_coverage_of_documents():
    kb = default_kb()
    by_home: dict[str, int] = {}
    for e in kb.entries.values():
        by_home[e.home] = by_home.get(e.home, 0) + 1
    assert len(kb.entries) >= 130
    assert by_home["NQ57"] >= 70
    assert by_home["KL69"] >= 35
    nq57_topics = {t.id for t in kb.topics["NQ57"]}
    assert {"quan-diem", "muc-tieu-2030", "tam-nhin-2045", "nhiem-vu",
            "to-chuc-thuc-hien"} <= nq57_topics


def test_every_entry_names_document_and_section_in_its_source():
    kb = default_kb()
    for e in kb.entries.values():
        number = kb.documents[e.document].number
        assert number in e.source, e.id
        assert e.section.strip(), e.id


# Questions whose answer must contain (and must not contain) these figures.
FACTS = [
    ("Nghị quyết 57 ban hành ngày nào", ["22/12/2024"], []),
    ("kl69 ban hanh ngay nao", ["11/01/2024"], []),
    ("mục tiêu kinh tế số đến năm 2030", ["tối thiểu 30% GDP"], []),
    ("kinh te so nam 2045 chiem bao nhieu gdp", ["50%"], []),
    ("chi cho nghiên cứu phát triển R&D đến 2030 bao nhiêu GDP", ["2%", "60%"], []),
    ("ngân sách nhà nước chi cho khoa học công nghệ theo nq57 là bao nhiêu",
     ["3%", "tổng chi ngân sách"], []),
    ("nhân lực nghiên cứu đến 2030 bao nhiêu người trên một vạn dân", ["12"], []),
    ("đóng góp của TFP vào tăng trưởng đến 2030", ["55%"], []),
    ("nghị quyết 57 có mấy quan điểm chỉ đạo", ["5"], []),
    ("nq57 co bao nhieu nhom nhiem vu giai phap", ["7"], []),
    ("kết luận 69 có mấy nhiệm vụ trọng tâm", ["6"], []),
    ("ai làm trưởng ban chỉ đạo trung ương về khoa học công nghệ", ["Tổng Bí thư"], []),
    ("nghị quyết 20 ban hành năm nào", ["01/11/2012"], []),
    ("nq57 muc tieu 5g", ["5G"], ["99%"]),
]


@pytest.mark.parametrize(("question", "must", "must_not"), FACTS)
def test_key_facts_are_answered_correctly(qa, question, must, must_not):
    result = qa.evaluate(question)
    assert result.entry is not None, f"no answer for {question!r}: {result.outcome}"
    for fact in must:
        assert fact in result.entry.answer, (question, result.entry.id)
    for wrong in must_not:
        assert wrong not in result.entry.answer, (question, result.entry.id)


# Figures the fact sheet marks UNCONFIRMED: the knowledge base must never assert them.
UNCONFIRMED = [r"99\s?%", r"350\s?Tbps", r"09 tuyến cáp", r"1 doanh nghiệp công nghệ số/1\.000"]


def test_no_unconfirmed_figure_is_stated():
    kb = default_kb()
    for e in kb.entries.values():
        for pattern in UNCONFIRMED:
            for m in re.finditer(pattern, e.answer):
                window = e.answer[max(0, m.start() - 250) : m.end() + 250].lower()
                assert "chưa" in window and ("kiểm chứng" in window or "xác" in window), (
                    f"{e.id} states an unconfirmed figure: {m.group(0)}"
                )
