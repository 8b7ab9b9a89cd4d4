"""The knowledge base: lint, coverage, and facts that must never be wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.app import build_qa
from bot.config import Settings
from content.kb import KnowledgeBaseError, default_kb, load_kb
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


# --- Lint rules, each checked on a small synthetic knowledge base ---------------------------


def _entry(**overrides):
    entry = {
        "id": "x-thong-tin-chung",
        "topic": "chung",
        "section": "I",
        "question": "Nghị quyết 1 là văn bản gì?",
        "phrasings": [
            "Nghị quyết số 1 nói về việc gì?",
            "nghi quyet 1 la van ban gi",
            "nghi quyet so 1 noi gi",
            "nq1 la gi vay",
            "nq 1 noi ve cai gi",
            "Văn bản Nghị quyết 1 có nội dung chính gì?",
            "tom tat nghi quyet 1",
            "Cho em hỏi Nghị quyết số 1 của Bộ Chính trị là gì ạ?",
            "Nghị quyết 1 ra đời để làm gì?",
            "Giới thiệu giúp Nghị quyết 1-NQ/TW",
        ],
        "answer": "Nghị quyết 1-NQ/TW là văn bản mẫu để kiểm tra công cụ soát nội dung.",
        "source": "Nghị quyết 1-NQ/TW, mục I",
        "confidence": "C",
        "basis": "facts A1",
    }
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


def _write_kb(root: Path, *, entry=None, document=None) -> Path:
    doc = {
        "key": "X", "number": "1-NQ/TW", "kind": "Nghị quyết", "date": "01/01/2025",
        "issuer": "Bộ Chính trị", "title": "mẫu", "short": "Nghị quyết 1", "scope": "core",
        "keys": ["NQ:1"], "overview": "x-thong-tin-chung",
    }
    doc.update(document or {})
    doc = {k: v for k, v in doc.items() if v is not None}
    (root / "documents.yaml").write_text(
        yaml.safe_dump({"documents": [doc]}, allow_unicode=True), encoding="utf-8")
    data = {"document": "X", "topics": [{"id": "chung", "title": "Chung"}],
            "entries": [entry or _entry()]}
    (root / "x.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def _lint(root: Path) -> list[str]:
    return run_checks(root, retrieval=False, calibration=False).errors


def test_synthetic_kb_is_clean(tmp_path):
    assert _lint(_write_kb(tmp_path)) == []


def test_short_answer_is_at_most_450_characters_and_the_rest_goes_to_more(tmp_path):
    long_answer = "Nghị quyết này nói về khoa học. " * 15  # > 450 characters
    errors = _lint(_write_kb(tmp_path, entry=_entry(answer=long_answer)))
    assert any("450" in e for e in errors), errors
    split = _entry(answer=long_answer[:300], more=long_answer[300:])
    assert _lint(_write_kb(tmp_path, entry=split)) == []
    kb = load_kb(tmp_path)
    assert kb.entries["x-thong-tin-chung"].more.startswith(long_answer[300:].strip()[:20])
    too_long = _entry(answer=long_answer[:300], more="Phần thêm có dấu. " * 80)
    assert any("1500" in e for e in _lint(_write_kb(tmp_path, entry=too_long)))


@pytest.mark.parametrize(
    "text",
    [
        "Ban Tuyên giáo Trung ương hướng dẫn quán triệt nghị quyết.",
        "Ban Kinh tế Trung ương theo dõi, đánh giá kết quả.",
        "Báo cáo gửi Bộ Thông tin và Truyền thông trước ngày 15/6.",
        "Ban tuyên giáo các huyện ủy theo dõi việc học tập.",
        "Hướng dẫn của cấp huyện gửi các chi bộ.",
        "Kế hoạch của Hưng Yên nêu hình thức tuyên truyền.",
    ],
)
def test_outdated_names_are_flagged_when_presented_as_current(tmp_path, text):
    errors = _lint(_write_kb(tmp_path, entry=_entry(answer=text)))
    assert errors and all("x-thong-tin-chung" in e for e in errors), errors


@pytest.mark.parametrize(
    "text",
    [
        "Ban Tuyên giáo Trung ương (nay là Ban Tuyên giáo và Dân vận Trung ương) hướng dẫn.",
        "Ban Kinh tế Trung ương (nay là Ban Chính sách, chiến lược Trung ương) theo dõi.",
        "Bộ Thông tin và Truyền thông đã hợp nhất vào Bộ Khoa học và Công nghệ tháng 3/2025.",
        "Từ 01/7/2025 cấp huyện không còn, các huyện ủy cũng không còn.",
        "Kế hoạch của Hưng Yên (25/02/2025) nêu hình thức tuyên truyền.",
    ],
)
def test_outdated_names_pass_when_the_answer_says_they_are_old(tmp_path, text):
    assert _lint(_write_kb(tmp_path, entry=_entry(answer=text))) == []


def test_a_note_only_in_more_does_not_excuse_an_outdated_short_answer(tmp_path):
    entry = _entry(answer="Ban Tuyên giáo Trung ương hướng dẫn quán triệt.",
                   more="Ban này nay là Ban Tuyên giáo và Dân vận Trung ương.")
    assert any("Ban Tuyên giáo Trung ương" in e for e in _lint(_write_kb(tmp_path, entry=entry)))


@pytest.mark.parametrize("missing", ["confidence", "basis"])
def test_entry_without_confidence_or_basis_is_an_error(tmp_path, missing):
    errors = _lint(_write_kb(tmp_path, entry=_entry(**{missing: None})))
    assert any(missing in e for e in errors), errors


@pytest.mark.parametrize(
    "aside",
    ["Tôi không trích dẫn con số này.", "Dữ liệu đã kiểm chứng không nêu điều này.",
     "Bạn nên xem văn bản gốc."],
)
def test_answers_keep_one_voice(tmp_path, aside):
    errors = _lint(_write_kb(tmp_path, entry=_entry(answer=f"Nghị quyết 1-NQ/TW. {aside}")))
    assert errors, aside


def test_every_document_needs_an_existing_overview_entry(tmp_path):
    errors = _lint(_write_kb(tmp_path, document={"overview": None}))
    assert any("overview" in e for e in errors), errors
    _write_kb(tmp_path, document={"overview": "x-khong-co"})
    with pytest.raises(KnowledgeBaseError):
        load_kb(tmp_path)
    assert any("x-khong-co" in e for e in _lint(tmp_path))


def test_real_kb_passes_every_rule_but_calibration():
    assert run_checks(retrieval=False, calibration=False).errors == []


def test_every_document_has_an_overview_of_its_own():
    kb = default_kb()
    for doc in kb.documents.values():
        entry = kb.entries[doc.overview]
        assert entry.document == doc.key, doc.key
        assert doc.number in entry.answer or doc.number in entry.source, doc.key
    assert "LUATCDS" in kb.documents
    cds = kb.entries[kb.documents["LUATCDS"].overview]
    for fact in ("148/2025/QH15", "8 chương", "48 điều", "01/7/2026"):
        assert fact in cds.answer


def test_nq57_overview_summarises_the_whole_resolution():
    kb = default_kb()
    overview = kb.entries[kb.documents["NQ57"].overview]
    text = overview.full_answer
    for part in ("22/12/2024", "5 quan điểm", "2030", "2045", "7 nhóm", "tổ chức thực hiện"):
        assert part in text, part
