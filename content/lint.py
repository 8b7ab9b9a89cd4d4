"""`nqbot content check`: lint the knowledge base (schema, sizes, ids, sources, retrieval)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from content.kb import KB_DIR, KnowledgeBase, KnowledgeBaseError, load_kb
from content.matcher import Matcher, load_model
from content.normalize import ABBREVIATIONS, analyze, clean, fold, has_diacritics

MAX_ANSWER_CHARS = 700
MAX_QUESTION_CHARS = 200
MIN_PHRASINGS = 4
MIN_UNACCENTED = 2
MAX_ID_LENGTH = 48  # keeps "e:<id>" button payloads far below Telegram's 64 bytes
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ABBREV_RE = re.compile(r"\b(?:nq|kl|hd)\s?\d+\b|\b[a-z]+\d+\b")


@dataclass
class LintReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    entries: int = 0
    kb_version: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def _is_abbreviated(phrasing: str) -> bool:
    folded = fold(clean(phrasing))
    if _ABBREV_RE.search(folded):
        return True
    tokens = re.findall(r"[a-z0-9&]+", folded)
    return any(t in ABBREVIATIONS for t in tokens) or "%" in phrasing


def check_entries(kb: KnowledgeBase, report: LintReport) -> None:
    err = report.errors.append
    topic_ids = {(doc, t.id) for doc, topics in kb.topics.items() for t in topics}
    seen_wordings: dict[str, str] = {}
    for entry in kb.entries.values():
        where = f"{entry.file} ({entry.id})"
        if not ID_RE.match(entry.id):
            err(f"{where}: id chỉ dùng chữ thường không dấu, số và dấu gạch ngang")
        if len(entry.id) > MAX_ID_LENGTH:
            err(f"{where}: id dài quá {MAX_ID_LENGTH} ký tự")
        document = kb.documents.get(entry.document)
        if document is None:
            err(f"{where}: văn bản '{entry.document}' không có trong documents.yaml")
        elif document.number not in entry.source:
            err(f"{where}: nguồn phải ghi số hiệu văn bản {document.number}")
        if (entry.home, entry.topic) not in topic_ids:
            err(f"{where}: chủ đề '{entry.topic}' chưa khai báo trong topics của {entry.file}")
        if len(entry.answer) > MAX_ANSWER_CHARS:
            err(f"{where}: câu trả lời dài {len(entry.answer)} ký tự (tối đa {MAX_ANSWER_CHARS})")
        if len(entry.question) > MAX_QUESTION_CHARS:
            err(f"{where}: câu hỏi dài quá {MAX_QUESTION_CHARS} ký tự")
        if not has_diacritics(entry.answer) or not has_diacritics(entry.question):
            err(f"{where}: câu hỏi và câu trả lời phải viết tiếng Việt có dấu")
        if len(entry.phrasings) < MIN_PHRASINGS:
            err(f"{where}: cần ít nhất {MIN_PHRASINGS} cách hỏi khác (có {len(entry.phrasings)})")
        unaccented = [p for p in entry.phrasings if not has_diacritics(p)]
        if len(unaccented) < MIN_UNACCENTED:
            err(f"{where}: cần ít nhất {MIN_UNACCENTED} cách hỏi không dấu")
        if not any(_is_abbreviated(p) for p in entry.phrasings):
            err(f"{where}: cần ít nhất một cách hỏi viết tắt/khẩu ngữ (vd. 'nq57 ...')")
        if not entry.source.strip():
            err(f"{where}: thiếu nguồn")
        for rel in entry.related:
            if rel == entry.id:
                err(f"{where}: liên quan trỏ vào chính nó")
            elif rel not in kb.entries:
                err(f"{where}: câu hỏi liên quan '{rel}' không tồn tại")
        for wording in entry.variants:
            key = analyze(wording).folded
            other = seen_wordings.get(key)
            if other is not None and other != entry.id:
                err(f"{where}: cách hỏi '{wording}' trùng với mục {other}")
            seen_wordings.setdefault(key, entry.id)


def check_retrieval(kb: KnowledgeBase, report: LintReport) -> Matcher:
    """Every wording must rank its own entry first (the exact-match shortcut is not used)."""
    matcher = Matcher(kb)
    for entry in kb.entries.values():
        for wording in entry.variants:
            cands, _ = matcher.candidates(analyze(wording))
            top = cands[0].entry.id if cands else None
            if top != entry.id:
                report.errors.append(
                    f"{entry.file} ({entry.id}): cách hỏi '{wording}' lại tìm ra mục {top}"
                )
    return matcher


def check_calibration(kb: KnowledgeBase, report: LintReport) -> None:
    model = load_model(kb.version)
    if model.get("kb_version") != kb.version:
        report.errors.append(
            "Ngưỡng trả lời chưa được hiệu chỉnh cho phiên bản nội dung này "
            f"({kb.version}); hãy chạy: nqbot content calibrate"
        )


def run_checks(kb_dir=KB_DIR, *, retrieval: bool = True, calibration: bool = True) -> LintReport:
    report = LintReport()
    try:
        kb = load_kb(kb_dir)
    except KnowledgeBaseError as exc:
        report.errors.append(str(exc))
        return report
    report.entries = len(kb.entries)
    report.kb_version = kb.version
    check_entries(kb, report)
    if retrieval and not report.errors:
        check_retrieval(kb, report)
    if calibration:
        check_calibration(kb, report)
    return report
