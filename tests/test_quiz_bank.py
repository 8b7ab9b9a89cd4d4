"""The question bank (content/quiz/): each lint rule bites on a small synthetic bank, and the real
bank passes every rule and has the items and coverage the practice quizzes need."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from content.kb import KB_DIR, default_kb
from content.lint import LintReport, check_quiz, run_checks
from content.quiz import (
    BANK_REQUIREMENTS,
    LETTERS,
    QuizBankError,
    QuizRequirements,
    default_bank,
    load_bank,
    validate_bank,
)

NO_COUNTS = QuizRequirements()


def _item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "nq57-thu-kinh-te-so",
        "document": "NQ57",
        "topic": "muc-tieu-2030",
        "difficulty": 1,
        "stem": "Đến năm 2030, Nghị quyết 57 đặt mục tiêu kinh tế số đạt bao nhiêu?",
        "options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                    "Khoảng 40% GDP"],
        "correct": "A",
        "explanation": "Năm 2030: kinh tế số tối thiểu 30% GDP. Mức 50% GDP là của năm 2045.",
        "entry": "nq57-muc-tieu-kinh-te-so-2030",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


def _write(root: Path, *items: dict[str, Any], topics: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "topics": [{"id": t, "title": f"Chủ đề {t}"} for t in (topics or ["muc-tieu-2030"])],
        "items": list(items),
    }
    # JSON is YAML: the file is written the way an author would see it.
    (root / "thu.yaml").write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    return root


def _errors(root: Path, requirements: QuizRequirements = NO_COUNTS) -> list[str]:
    errors, _ = validate_bank(load_bank(root), default_kb(), requirements)
    return errors


def test_synthetic_bank_is_clean(tmp_path):
    assert _errors(_write(tmp_path, _item())) == []
    bank = load_bank(tmp_path)
    item = bank.items["nq57-thu-kinh-te-so"]
    assert item.correct == 0 and item.correct_option == "Tối thiểu 30% GDP"
    assert bank.topic_title(item) == "Chủ đề muc-tieu-2030"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # exactly one correct option, given as 0-3 or A-D
        ({"correct": [0, 1]}, "đúng một phương án đúng"),
        ({"correct": 4}, "'correct' phải là 0–3"),
        # four distinct options
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP"]},
         "cần đúng 4 phương án"),
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "toi thieu 50%  gdp",
                      "Khoảng 40% GDP"]}, "các phương án phải khác nhau"),
        # the linked entry exists and belongs to the document
        ({"entry": "nq57-khong-co-muc-nay"}, "không tồn tại"),
        ({"entry": "kl69-ngay-ban-hanh"}, "thuộc văn bản KL69"),
        # the correct option's facts are in the entry it rests on
        ({"options": ["Tối thiểu 40% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                      "Khoảng 35% GDP"]}, "con số 40% không có trong câu trả lời"),
        ({"options": ["Bằng mức bình quân ASEAN", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                      "Khoảng 40% GDP"]}, "không dựa trên mục"),
        # distractor figures are real figures of other points
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 37% GDP", "Tối thiểu 70% GDP",
                      "Khoảng 40% GDP"]}, "con số «37%» không có trong nội dung"),
        # lengths that fit a phone
        ({"stem": "Đến năm 2030, " + "kinh tế số " * 20 + "là bao nhiêu?"}, "tối đa 200"),
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP " + "và hơn thế nữa " * 6,
                      "Tối thiểu 70% GDP", "Khoảng 40% GDP"]}, "tối đa 90"),
        # no option pointing at other options
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                      "Tất cả các phương án trên"]}, "mỗi phương án phải nêu một ý riêng"),
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                      "Cả A và B đều đúng"]}, "mỗi phương án phải nêu một ý riêng"),
        ({"options": ["Tối thiểu 30% GDP", "Tối thiểu 50% GDP", "Tối thiểu 70% GDP",
                      "Không có phương án nào"]}, "mỗi phương án phải nêu một ý riêng"),
        # no negated stems
        ({"stem": "Con số nào KHÔNG phải mục tiêu kinh tế số năm 2030?"}, "câu hỏi phủ định"),
        ({"stem": "Mục tiêu nào không thuộc Nghị quyết 57?"}, "câu hỏi phủ định"),
        ({"stem": "Nhận định nào sau đây sai về kinh tế số năm 2030?"}, "câu hỏi phủ định"),
        # options of similar length: the answer must not give itself away
        ({"options": ["Tối thiểu 30% GDP, theo mục tiêu đến năm 2030 của Nghị quyết", "50%",
                      "70%", "40%"]}, "dài hẳn các phương án khác"),
        # no invented figure in the stem or the explanation either
        ({"explanation": "Năm 2030: kinh tế số tối thiểu 30% GDP, gấp đôi mức 15,5% hiện nay."},
         "lời giải thích: con số «15,5%»"),
        ({"stem": "Đến năm 2035, Nghị quyết 57 đặt mục tiêu kinh tế số đạt bao nhiêu?"},
         "câu hỏi: con số «2035»"),
        # one or two sentences of explanation, Vietnamese with diacritics
        ({"explanation": "Năm 2030 là 30% GDP. Năm 2045 là 50% GDP. Đừng nhầm hai mốc."},
         "tối đa 2 câu"),
        ({"stem": "Den nam 2030 kinh te so dat bao nhieu?"}, "có dấu"),
        # id, document, topic, difficulty
        ({"id": "kl69-thu-kinh-te-so"}, "bắt đầu bằng 'nq57-'"),
        ({"id": "nq57_Thu"}, "chữ thường không dấu"),
        ({"document": "NQ99"}, "không có trong documents.yaml"),
        ({"topic": "chu-de-la"}, "chưa khai báo trong topics"),
        ({"difficulty": 5}, "'difficulty' phải là 1, 2 hoặc 3"),
    ],
)
def test_each_rule_flags_a_bad_item(tmp_path, overrides, expected):
    errors = _errors(_write(tmp_path, _item(**overrides)))
    assert any(expected in e for e in errors), errors
    assert all("nq57-thu" in e or "kl69-thu" in e or "nq57_Thu" in e for e in errors), errors


def test_the_letter_or_the_index_names_the_correct_option(tmp_path):
    for given, index in (("C", 2), ("b", 1), (3, 3)):
        options = ["Tối thiểu 50% GDP", "Tối thiểu 70% GDP", "Khoảng 40% GDP"]
        options.insert(index, "Tối thiểu 30% GDP")
        _write(tmp_path, _item(options=options, correct=given))
        assert _errors(tmp_path) == []
        assert load_bank(tmp_path).items["nq57-thu-kinh-te-so"].correct == index


def test_the_same_stem_twice_is_an_error(tmp_path):
    errors = _errors(_write(tmp_path, _item(), _item(id="nq57-thu-hai")))
    assert any("câu hỏi trùng với nq57-thu-kinh-te-so" in e for e in errors), errors


@pytest.mark.parametrize("missing", ["stem", "options", "correct", "entry", "difficulty"])
def test_a_missing_field_stops_the_loader(tmp_path, missing):
    with pytest.raises(QuizBankError, match=missing):
        load_bank(_write(tmp_path, _item(**{missing: None})))


def test_a_duplicate_id_stops_the_loader(tmp_path):
    with pytest.raises(QuizBankError, match="trùng"):
        load_bank(_write(tmp_path, _item(), _item(stem="Kinh tế số năm 2030 đạt bao nhiêu GDP?")))


def test_counts_and_coverage_are_required(tmp_path):
    _write(tmp_path, _item())
    errors = _errors(tmp_path, QuizRequirements(
        total=2,
        per_document=(("NQ57", 2), ("KL69", 1)),
        per_topic=(("NQ57", "muc-tieu-2030", 2),),
        every_entry_of=(("NQ57", "tam-nhin-2045"),),
    ))
    assert any("cần ít nhất 2 câu (có 1)" in e for e in errors), errors
    assert any("ít nhất 1 câu về KL69 (có 0)" in e for e in errors), errors
    assert any("chủ đề muc-tieu-2030 (NQ57) cần ít nhất 2" in e for e in errors), errors
    assert any("nq57-kinh-te-so-2045" in e for e in errors), errors
    assert not any("nq57-muc-tieu-kinh-te-so-2030" in e for e in errors), errors


def test_content_check_runs_the_quiz_lint_and_marks_old_names(tmp_path):
    bad = _item(explanation="Ban Tuyên giáo Trung ương hướng dẫn quán triệt. Mục tiêu là 30% GDP.")
    report = run_checks(KB_DIR, retrieval=False, calibration=False,
                        quiz_dir=_write(tmp_path, bad, _item(id="nq57-thu-2", correct=7)))
    assert any("nq57-thu-2" in e and "'correct'" in e for e in report.errors), report.errors
    assert any("Ban Tuyên giáo Trung ương" in e for e in report.errors), report.errors
    assert any("cần ít nhất 150 câu" in e for e in report.errors), report.errors
    # A synthetic knowledge base elsewhere is not checked against the real bank.
    broken = tmp_path / "hong"
    broken.mkdir()
    (broken / "thu.yaml").write_text("items: [1, 2", "utf-8")
    report = LintReport()
    check_quiz(default_kb(), report, broken)
    assert report.errors and "YAML không hợp lệ" in report.errors[0]


# --------------------------------------------------------------------------- the real bank


def test_real_bank_passes_every_rule_and_meets_the_counts():
    errors, _ = validate_bank(default_bank(), default_kb(), BANK_REQUIREMENTS)
    assert errors == []
    report = run_checks(retrieval=False, calibration=False)
    assert not [e for e in report.errors if e.startswith("quiz/") or "câu hỏi" in e]


def test_real_bank_counts_per_document():
    by_document = Counter(i.document for i in default_bank().items.values())
    assert sum(by_document.values()) >= 150
    assert by_document["NQ57"] >= 90
    assert by_document["KL69"] >= 45
    context = sum(n for doc, n in by_document.items() if doc not in ("NQ57", "KL69"))
    assert context >= 15
    assert {"NQ20", "NQ03CP", "KH01HY"} <= set(by_document)


def test_real_bank_covers_every_viewpoint_target_vision_point_and_task_group():
    kb, bank = default_kb(), default_bank()
    items = list(bank.items.values())
    topics = Counter(i.topic for i in items if i.document == "NQ57")
    for n in range(1, 6):
        assert topics[f"quan-diem-{n}"] >= 2, f"quan điểm {n}"
    for n in range(1, 8):
        assert topics[f"nhiem-vu-{n}"] >= 2, f"nhóm nhiệm vụ {n}"
    for n in range(1, 7):
        assert any(i.topic == f"nhiem-vu-{n}" for i in items if i.document == "KL69"), n
    tested = {i.entry for i in items}
    for kb_topic in ("muc-tieu-2030", "tam-nhin-2045"):
        entries = [e.id for e in kb.entries.values() if e.home == "NQ57" and e.topic == kb_topic]
        assert entries and not [e for e in entries if e not in tested], kb_topic
    # Every viewpoint and task-group entry of the knowledge base is the source of an item.
    for prefix, count in (("nq57-quan-diem-", 5), ("nq57-nhiem-vu-nhom-", 7)):
        linked = {e for e in tested if e.startswith(prefix) and e[len(prefix)].isdigit()}
        assert len(linked) >= count - 2, (prefix, linked)


def test_real_bank_shows_a_source_for_every_item():
    kb = default_kb()
    for item in default_bank().items.values():
        entry = kb.entries[item.entry]
        assert kb.documents[entry.document].number in entry.source, item.id


def test_guessing_does_not_pay():
    items = list(default_bank().items.values())
    # The correct option sits in every position, none much more often than the others.
    positions = Counter(i.correct for i in items)
    assert set(positions) == {0, 1, 2, 3}
    assert max(positions.values()) <= 0.35 * len(items), positions
    # Picking the longest option is right for about a quarter of the items, not more.
    longest = sum(1 for i in items if max(range(4), key=lambda n: len(i.options[n])) == i.correct)
    assert longest <= 0.35 * len(items)
    # Every difficulty is present; the banned forms never appear.
    assert set(Counter(i.difficulty for i in items)) == {1, 2, 3}
    for item in items:
        assert "KHÔNG" not in item.stem and "không phải" not in item.stem.lower(), item.id
        assert not any("tất cả đều" in o.lower() or "cả a và b" in o.lower()
                       for o in item.options), item.id


def test_figures_that_must_never_be_wrong():
    bank = default_bank()
    expected = {
        "nq57-mt2030-kinh-te-so": "Tối thiểu 30% GDP",
        "nq57-tn2045-kinh-te-so": "Tối thiểu 50% GDP",
        "nq57-mt2030-chi-rd": "2% GDP, trong đó từ xã hội hơn 60%",
        "nq57-mt2030-ngan-sach": "Ít nhất 3%",
        "nq57-mt2030-nhan-luc-nghien-cuu": "12 người",
        "nq57-ngay-ban-hanh": "22/12/2024",
        "kl69-ngay-ban-hanh": "11/01/2024",
        "kl69-so-nhiem-vu": "6 nhiệm vụ",
        "nq57-nv-so-nhom": "7 nhóm",
        "nq57-so-quan-diem": "5 quan điểm",
    }
    for item_id, answer in expected.items():
        item = bank.items[item_id]
        assert item.correct_option == answer, item_id
        assert LETTERS[item.correct] in LETTERS
