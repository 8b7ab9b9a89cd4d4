"""`nqbot content check`: lint the knowledge base (schema, sizes, ids, sources, retrieval)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from content.kb import KB_DIR, KnowledgeBase, KnowledgeBaseError, load_kb
from content.matcher import Matcher, load_model
from content.normalize import ABBREVIATIONS, analyze, clean, fold, has_diacritics
from content.quiz import (
    BANK_REQUIREMENTS,
    QUIZ_DIR,
    QuizBankError,
    QuizRequirements,
    load_bank,
    validate_bank,
)

MAX_ANSWER_CHARS = 450  # the short answer: one phone screen
MAX_TOTAL_CHARS = 1500  # answer + more (shown after "Xem thêm")
CONFIDENCE_LABELS = frozenset({"C", "T", "seed"})
RULES_FILE = "rules/outdated_names.yaml"
# Asides that break the bot's one voice (it addresses members as "đồng chí" and does not talk
# about its own data): (pattern, explanation).
VOICE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:tôi|chúng tôi|bạn|các bạn|anh/chị|quý vị)\b", re.IGNORECASE),
     "xưng hô: bot gọi người dùng là «đồng chí», không xưng «tôi», không gọi «bạn»"),
    (re.compile(r"dữ liệu đã kiểm chứng|không trích dẫn", re.IGNORECASE),
     "không chêm lời bình về dữ liệu của bot («dữ liệu đã kiểm chứng», «không trích dẫn»)"),
)
MAX_QUESTION_CHARS = 200
MIN_PHRASINGS = 10
MIN_UNACCENTED = 4
MIN_ABBREVIATED = 2
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


@dataclass(frozen=True)
class OutdatedRule:
    """A name that is no longer current: flagged unless the entry says so (an allowed context)."""

    pattern: re.Pattern[str]
    why: str
    allowed_if: tuple[str, ...]

    def violations(self, text: str) -> list[str]:
        if not self.pattern.search(text):
            return []
        lowered = text.lower()
        if any(word.lower() in lowered for word in self.allowed_if):
            return []
        return sorted({m.group(0) for m in self.pattern.finditer(text)})


def load_outdated_rules(path: Path) -> list[OutdatedRule]:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = []
    for raw in data.get("rules") or []:
        rules.append(
            OutdatedRule(
                pattern=re.compile(str(raw["pattern"]), re.IGNORECASE),
                why=str(raw["why"]),
                allowed_if=tuple(str(w) for w in raw.get("allowed_if") or ()),
            )
        )
    return rules


def check_outdated_names(kb: KnowledgeBase, rules: list[OutdatedRule], report: LintReport) -> None:
    """Names of bodies renamed or abolished since a document was written must be flagged as such."""
    for entry in kb.entries.values():
        # The short answer must stand on its own; "more" may rely on a note in the answer.
        texts = [entry.answer] + ([f"{entry.answer} {entry.more}"] if entry.more else [])
        for rule in rules:
            for found in sorted({f for text in texts for f in rule.violations(text)}):
                report.errors.append(
                    f"{entry.file} ({entry.id}): «{found}» — {rule.why}; hãy nói rõ "
                    f"(vd. {', '.join(repr(w) for w in rule.allowed_if[:3])})"
                )


def check_documents(kb: KnowledgeBase, report: LintReport) -> None:
    for doc in kb.documents.values():
        if not doc.overview:
            report.errors.append(f"documents.yaml ({doc.key}): thiếu trường 'overview'")
            continue
        entry = kb.entries.get(doc.overview)
        if entry is not None and entry.document != doc.key:
            report.errors.append(
                f"documents.yaml ({doc.key}): mục tổng quan '{doc.overview}' thuộc văn bản "
                f"{entry.document}"
            )


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
            err(
                f"{where}: câu trả lời ngắn dài {len(entry.answer)} ký tự (tối đa "
                f"{MAX_ANSWER_CHARS}); chuyển phần sau sang 'more'"
            )
        if len(entry.answer) + len(entry.more) > MAX_TOTAL_CHARS:
            err(f"{where}: answer + more dài quá {MAX_TOTAL_CHARS} ký tự")
        if entry.confidence not in CONFIDENCE_LABELS:
            err(f"{where}: thiếu hoặc sai 'confidence' (một trong {sorted(CONFIDENCE_LABELS)})")
        if not entry.basis.strip():
            err(f"{where}: thiếu 'basis' (dòng nào của bảng dữ kiện hay văn bản gốc)")
        for pattern, why in VOICE_RULES:
            found = pattern.search(f"{entry.answer} {entry.more}")
            if found:
                err(f"{where}: «{found.group(0)}» — {why}")
        if len(entry.question) > MAX_QUESTION_CHARS:
            err(f"{where}: câu hỏi dài quá {MAX_QUESTION_CHARS} ký tự")
        if entry.more and not has_diacritics(entry.more):
            err(f"{where}: phần 'more' phải viết tiếng Việt có dấu")
        if not has_diacritics(entry.answer) or not has_diacritics(entry.question):
            err(f"{where}: câu hỏi và câu trả lời phải viết tiếng Việt có dấu")
        if len(entry.phrasings) < MIN_PHRASINGS:
            err(f"{where}: cần ít nhất {MIN_PHRASINGS} cách hỏi khác (có {len(entry.phrasings)})")
        unaccented = [p for p in entry.phrasings if not has_diacritics(p)]
        if len(unaccented) < MIN_UNACCENTED:
            err(f"{where}: cần ít nhất {MIN_UNACCENTED} cách hỏi không dấu")
        abbreviated = sum(1 for p in entry.phrasings if _is_abbreviated(p))
        if abbreviated < MIN_ABBREVIATED:
            err(f"{where}: cần ít nhất {MIN_ABBREVIATED} cách hỏi viết tắt/khẩu ngữ "
                f"(vd. 'nq57 ...'), có {abbreviated}")
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


def check_quiz(kb: KnowledgeBase, report: LintReport, quiz_dir: Path = QUIZ_DIR,
               requirements: QuizRequirements = BANK_REQUIREMENTS,
               outdated: list[OutdatedRule] | None = None) -> None:
    """The question bank (content/quiz/): one correct option resting on its KB entry, counts."""
    try:
        bank = load_bank(quiz_dir)
    except QuizBankError as exc:
        report.errors.append(str(exc))
        return
    errors, warnings = validate_bank(bank, kb, requirements)
    report.errors.extend(errors)
    report.warnings.extend(warnings)
    for item in bank.items.values():  # a name no longer current must be marked in the item too
        text = " | ".join((item.stem, *item.options, item.explanation))
        for rule in outdated or []:
            for found in rule.violations(text):
                report.errors.append(f"quiz/{item.file} ({item.id}): «{found}» — {rule.why}")


def run_checks(kb_dir=KB_DIR, *, retrieval: bool = True, calibration: bool = True,
               quiz_dir: Path | None = None) -> LintReport:
    report = LintReport()
    try:
        kb = load_kb(kb_dir)
    except KnowledgeBaseError as exc:
        report.errors.append(str(exc))
        return report
    report.entries = len(kb.entries)
    report.kb_version = kb.version
    check_entries(kb, report)
    check_documents(kb, report)
    rules_path = Path(kb_dir) / RULES_FILE
    if not rules_path.exists():
        rules_path = KB_DIR / RULES_FILE
    check_outdated_names(kb, load_outdated_rules(rules_path), report)
    # The question bank is checked against the real knowledge base, or where the caller says.
    if quiz_dir is None and Path(kb_dir).resolve() == KB_DIR:
        quiz_dir = QUIZ_DIR
    if quiz_dir is not None:
        check_quiz(kb, report, quiz_dir, outdated=load_outdated_rules(rules_path))
    if retrieval and not report.errors:
        check_retrieval(kb, report)
    if calibration:
        check_calibration(kb, report)
    return report
