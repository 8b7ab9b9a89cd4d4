"""The question bank: multiple-choice items in `content/quiz/*.yaml`, each resting on a KB entry.

The loader only reads and checks structure (it raises `QuizBankError` when a file cannot be read as
the format requires); `validate_bank` checks what an item says against the knowledge base and is
run by `nqbot content check` (`content.lint.check_quiz`). Nothing here shuffles items or options:
order is the UI's job.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from content.normalize import clean, fold, has_diacritics

if TYPE_CHECKING:
    from content.kb import KnowledgeBase

QUIZ_DIR = Path(__file__).resolve().parent / "quiz"
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

OPTION_COUNT = 4
LETTERS = "ABCD"
MAX_STEM_CHARS = 200  # fits a phone screen with the four options
MAX_OPTION_CHARS = 90  # fits a Telegram button / a numbered Zalo line
MAX_EXPLANATION_CHARS = 320
MAX_EXPLANATION_SENTENCES = 2
MAX_ITEM_ID_LENGTH = 48  # keeps "q:<id>:<n>" button payloads under Telegram's 64 bytes
ITEM_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Share of the correct option's content words that must appear in the entry it rests on.
MIN_WORD_SUPPORT = 0.6
# Always picking the longest option must not pay: at most this share of items would be right.
MAX_LONGEST_SHARE = 0.35


class QuizBankError(ValueError):
    """A question-bank file cannot be read as the format requires."""


@dataclass(frozen=True)
class QuizTopic:
    id: str
    title: str
    file: str


@dataclass(frozen=True)
class QuizItem:
    id: str
    document: str
    topic: str
    difficulty: int
    stem: str
    options: tuple[str, ...]
    answers: tuple[int, ...]  # indexes of the options marked correct (exactly one when valid)
    explanation: str
    entry: str
    file: str = ""

    @property
    def correct(self) -> int:
        """Index of the correct option (0-3)."""
        return self.answers[0]

    @property
    def correct_option(self) -> str:
        return self.options[self.correct]


@dataclass
class QuizBank:
    items: dict[str, QuizItem]  # in file order (files sorted by name)
    topics: dict[tuple[str, str], QuizTopic]  # (file, topic id) -> topic
    version: str
    files: list[str] = field(default_factory=list)

    def for_document(self, document: str) -> list[QuizItem]:
        return [i for i in self.items.values() if i.document == document]

    def topic_of(self, item: QuizItem) -> QuizTopic | None:
        return self.topics.get((item.file, item.topic))

    def topic_title(self, item: QuizItem) -> str:
        topic = self.topic_of(item)
        return topic.title if topic else item.topic


@dataclass(frozen=True)
class QuizRequirements:
    """How many items the bank needs, and what they must cover."""

    total: int = 0
    per_document: tuple[tuple[str, int], ...] = ()
    # (document, quiz topic, minimum items): e.g. each of the 5 viewpoints of NQ 57.
    per_topic: tuple[tuple[str, str, int], ...] = ()
    # (document, KB topic): every KB entry filed under it must be the entry of at least one item.
    every_entry_of: tuple[tuple[str, str], ...] = ()


BANK_REQUIREMENTS = QuizRequirements(
    total=150,
    per_document=(("NQ57", 90), ("KL69", 45)),
    per_topic=(
        *(("NQ57", f"quan-diem-{n}", 2) for n in range(1, 6)),
        *(("NQ57", f"nhiem-vu-{n}", 2) for n in range(1, 8)),
        ("NQ57", "muc-tieu-2030", 15),
        ("NQ57", "tam-nhin-2045", 5),
    ),
    every_entry_of=(("NQ57", "muc-tieu-2030"), ("NQ57", "tam-nhin-2045")),
)


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise QuizBankError(f"quiz/{path.name}: YAML không hợp lệ: {exc}") from exc
    if not isinstance(data, dict):
        raise QuizBankError(f"quiz/{path.name}: tệp phải là một bảng YAML")
    return data


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None or not isinstance(value, (str, int, float)) or str(value).strip() == "":
        raise QuizBankError(f"{where}: thiếu trường '{key}'")
    return " ".join(clean(str(value)).split())


def _answer_index(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise QuizBankError(f"{where}: 'correct' phải là số 0–3 hoặc chữ A–D")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().upper() in tuple(LETTERS):
        return LETTERS.index(value.strip().upper())
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise QuizBankError(f"{where}: 'correct' phải là số 0–3 hoặc chữ A–D (có '{value}')")


def _parse_item(raw: Any, file: str, n: int) -> QuizItem:
    where = f"quiz/{file} #{n}"
    if not isinstance(raw, dict):
        raise QuizBankError(f"{where}: mỗi câu hỏi phải là một bảng YAML")
    item_id = _text(raw, "id", where)
    where = f"quiz/{file} ({item_id})"
    options = raw.get("options")
    if not isinstance(options, list) or not all(
        isinstance(o, (str, int, float)) and not isinstance(o, bool) for o in options
    ):
        raise QuizBankError(f"{where}: 'options' phải là danh sách các chuỗi")
    if "correct" not in raw or raw["correct"] is None:
        raise QuizBankError(f"{where}: thiếu trường 'correct'")
    correct = raw["correct"]
    answers = tuple(
        _answer_index(v, where) for v in (correct if isinstance(correct, list) else [correct])
    )
    difficulty = raw.get("difficulty")
    if isinstance(difficulty, bool) or not isinstance(difficulty, int):
        raise QuizBankError(f"{where}: 'difficulty' phải là số 1, 2 hoặc 3")
    return QuizItem(
        id=item_id,
        document=_text(raw, "document", where),
        topic=_text(raw, "topic", where),
        difficulty=difficulty,
        stem=_text(raw, "stem", where),
        options=tuple(" ".join(clean(str(o)).split()) for o in options),
        answers=answers,
        explanation=_text(raw, "explanation", where),
        entry=_text(raw, "entry", where),
        file=file,
    )


def compute_version(quiz_dir: Path = QUIZ_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(quiz_dir).glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "quiz-" + digest.hexdigest()[:12]


def load_bank(quiz_dir: Path = QUIZ_DIR) -> QuizBank:
    quiz_dir = Path(quiz_dir)
    items: dict[str, QuizItem] = {}
    topics: dict[tuple[str, str], QuizTopic] = {}
    files: list[str] = []
    for path in sorted(quiz_dir.glob("*.yaml")):
        files.append(path.name)
        data = _read_yaml(path)
        for raw in data.get("topics") or []:
            if not isinstance(raw, dict):
                raise QuizBankError(f"quiz/{path.name}: mỗi chủ đề phải có 'id' và 'title'")
            topic = QuizTopic(
                id=_text(raw, "id", f"quiz/{path.name}"),
                title=_text(raw, "title", f"quiz/{path.name}"),
                file=path.name,
            )
            if (path.name, topic.id) in topics:
                raise QuizBankError(f"quiz/{path.name}: chủ đề '{topic.id}' khai báo hai lần")
            topics[(path.name, topic.id)] = topic
        for n, raw in enumerate(data.get("items") or [], start=1):
            item = _parse_item(raw, path.name, n)
            if item.id in items:
                raise QuizBankError(
                    f"quiz/{path.name} ({item.id}): id bị trùng với {items[item.id].file}"
                )
            items[item.id] = item
    return QuizBank(items=items, topics=topics, version=compute_version(quiz_dir), files=files)


@lru_cache(maxsize=1)
def default_bank() -> QuizBank:
    return load_bank()


# --------------------------------------------------------------------------- validation

# Numbers as written in the documents: 30%, 0,7, 1.227, 16 - 18%, 22/12/2024, 57-NQ/TW.
_NUMBER_RE = re.compile(r"\d+(?:[.,/]\d+)*(?:\s?%)?")
_WORD_RE = re.compile(r"[a-z]+")
# Folded function words that carry no fact of their own.
_STOPWORDS = frozenset(
    "va cua la cac nhung cho trong voi duoc co theo ve de mot do tu den khi thi ma nay do "
    "tai tren duoi hon nhat deu cung nhu o ra vao bang boi nen hay hoac rang se da dang "
    "phai can moi tung it".split()
)
# Options that point at other options instead of stating a fact.
_OPTION_BANS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:deu|cung|ca hai|ca ba|ca bon) (?:dung|sai)\b"), "«… đều đúng/sai»"),
    (re.compile(r"\btat ca (?:cac )?(?:phuong an|dap an|y|cau)\b"), "«tất cả các phương án…»"),
    (re.compile(r"\bca [a-d](?:,? [a-d])*,? va [a-d]\b"), "«cả A và B»"),
    (re.compile(r"^[a-d](?:,? [a-d])*,? va [a-d]$"), "«A và B»"),
    (re.compile(r"\bkhong (?:co )?(?:phuong an|dap an|y|cau) nao\b"), "«không có phương án nào»"),
    (re.compile(r"\b(?:cac|nhung) (?:phuong an|dap an|y|cau) tren\b"), "«các phương án trên»"),
)
# Stems that ask for the wrong one: guessing the odd one out is easier than knowing the fact.
_NEGATED_STEM = re.compile(
    r"\bkhông (?:phải|đúng|thuộc|nằm|có trong|được nêu|được nhắc|nêu|nhắc|đề cập|bao gồm|gồm|là)\b"
    r"|\bngoại trừ\b|\bnào (?:sau đây )?(?:là )?sai\b|\bsai\?",
)
_SENTENCE_END = re.compile(r"[.!?…](?=\s+[A-ZÀ-ỸĐ\"«(]|\s*$)")


def _folded_words(text: str) -> list[str]:
    return _WORD_RE.findall(fold(clean(text)).replace("đ", "d"))


def _numbers(text: str) -> list[str]:
    return [n.replace(" ", "") for n in _NUMBER_RE.findall(clean(text))]


def _number_in(number: str, text: str) -> bool:
    body = re.escape(number.rstrip("%"))
    percent = r"\s?%" if number.endswith("%") else ""
    return re.search(rf"(?<![\d.,/]){body}{percent}(?![\d]|[.,/]\d)", text) is not None


def word_support(option: str, text: str) -> float:
    """Share of the option's content words (folded syllables) that occur in `text`."""
    words = [w for w in _folded_words(option) if w not in _STOPWORDS]
    if not words:
        return 1.0
    present = set(_folded_words(text))
    return sum(1 for w in words if w in present) / len(words)


def sentence_count(text: str) -> int:
    return len(_SENTENCE_END.findall(text.strip())) or 1


def _option_key(option: str) -> str:
    """Folded, case- and spacing-insensitive; keeps digits and the signs inside numbers/codes."""
    return " ".join(re.findall(r"[a-z0-9%]+(?:[-/.,][a-z0-9%]+)*", fold(clean(option))))


def _item_problems(item: QuizItem, kb: KnowledgeBase, kb_text: str,
                   topics: dict[tuple[str, str], QuizTopic]) -> list[str]:
    problems: list[str] = []
    add = problems.append
    if not ITEM_ID_RE.match(item.id):
        add("id chỉ dùng chữ thường không dấu, số và dấu gạch ngang")
    if len(item.id) > MAX_ITEM_ID_LENGTH:
        add(f"id dài quá {MAX_ITEM_ID_LENGTH} ký tự")
    if item.document not in kb.documents:
        add(f"văn bản '{item.document}' không có trong documents.yaml")
    elif not item.id.startswith(item.document.lower() + "-"):
        add(f"id phải bắt đầu bằng '{item.document.lower()}-' (mã văn bản)")
    if (item.file, item.topic) not in topics:
        add(f"chủ đề '{item.topic}' chưa khai báo trong topics của quiz/{item.file}")
    if item.difficulty not in (1, 2, 3):
        add("'difficulty' phải là 1, 2 hoặc 3")
    # Stem
    if len(item.stem) > MAX_STEM_CHARS:
        add(f"câu hỏi dài {len(item.stem)} ký tự (tối đa {MAX_STEM_CHARS})")
    if not has_diacritics(item.stem) or not has_diacritics(item.explanation):
        add("câu hỏi và lời giải thích phải viết tiếng Việt có dấu")
    found = _NEGATED_STEM.search(item.stem.lower())
    if found or "KHÔNG" in item.stem:
        add(f"câu hỏi phủ định («{found.group(0) if found else 'KHÔNG'}»): hãy hỏi điều đúng")
    # Options
    if len(item.options) != OPTION_COUNT:
        add(f"cần đúng {OPTION_COUNT} phương án (có {len(item.options)})")
    for n, option in enumerate(item.options):
        label = LETTERS[n] if n < len(LETTERS) else str(n + 1)
        if not option:
            add(f"phương án {label} để trống")
        if len(option) > MAX_OPTION_CHARS:
            add(f"phương án {label} dài {len(option)} ký tự (tối đa {MAX_OPTION_CHARS})")
        folded = " ".join(_folded_words(option))
        for pattern, name in _OPTION_BANS:
            if pattern.search(folded):
                add(f"phương án {label} có dạng {name}: mỗi phương án phải nêu một ý riêng")
        for number in _numbers(option):
            if not _number_in(number, kb_text):
                add(f"phương án {label}: con số «{number}» không có trong nội dung hỏi đáp "
                    "(phương án nhiễu phải lấy số thật của điểm khác)")
    keys = [_option_key(o) for o in item.options]
    if len(set(keys)) != len(keys):
        add("các phương án phải khác nhau (sau khi bỏ dấu, bỏ chữ hoa)")
    # The correct option
    if len(item.answers) != 1:
        add(f"cần đúng một phương án đúng (có {len(item.answers)})")
    elif not 0 <= item.correct < OPTION_COUNT:
        add("'correct' phải là 0–3 hoặc A–D")
    if len(item.options) == OPTION_COUNT and len(item.answers) == 1 and 0 <= item.correct < 4:
        correct = item.correct_option
        others = [len(o) for n, o in enumerate(item.options) if n != item.correct]
        if len(correct) > 1.3 * max(others) and len(correct) - max(others) > 10:
            add("phương án đúng dài hẳn các phương án khác (lộ đáp án): viết các phương án "
                "dài tương đương")
        lengths = [len(o) for o in item.options]
        if max(lengths) > 2.5 * min(lengths) and max(lengths) - min(lengths) > 30:
            add("độ dài các phương án chênh lệch quá nhiều")
        entry = kb.entries.get(item.entry)
        if entry is not None:
            text = clean(f"{entry.answer} {entry.more}")
            missing = [n for n in _numbers(correct) if not _number_in(n, text)]
            if missing:
                add(f"phương án đúng có con số {', '.join(missing)} không có trong câu trả lời "
                    f"của mục {entry.id}")
            support = word_support(correct, text)
            if support < MIN_WORD_SUPPORT:
                add(f"phương án đúng không dựa trên mục {entry.id}: chỉ {support:.0%} từ của "
                    f"nó có trong câu trả lời (cần ≥ {MIN_WORD_SUPPORT:.0%})")
    for where, text in (("câu hỏi", item.stem), ("lời giải thích", item.explanation)):
        for number in _numbers(text):
            if not _number_in(number, kb_text):
                add(f"{where}: con số «{number}» không có trong nội dung hỏi đáp")
    # Explanation and entry
    if len(item.explanation) > MAX_EXPLANATION_CHARS:
        add(f"lời giải thích dài quá {MAX_EXPLANATION_CHARS} ký tự")
    if sentence_count(item.explanation) > MAX_EXPLANATION_SENTENCES:
        add(f"lời giải thích tối đa {MAX_EXPLANATION_SENTENCES} câu")
    entry = kb.entries.get(item.entry)
    if entry is None:
        add(f"mục hỏi đáp '{item.entry}' không tồn tại")
    elif item.document not in (entry.document, entry.home):
        add(f"mục {entry.id} thuộc văn bản {entry.document}, không phải {item.document}")
    return problems


def validate_bank(
    bank: QuizBank, kb: KnowledgeBase, requirements: QuizRequirements = BANK_REQUIREMENTS
) -> tuple[list[str], list[str]]:
    """Errors and warnings for the bank against the knowledge base, as `content check` prints."""
    errors: list[str] = []
    warnings: list[str] = []
    kb_text = clean(" ".join(f"{e.answer} {e.more}" for e in kb.entries.values()))
    stems: dict[str, str] = {}
    for item in bank.items.values():
        where = f"quiz/{item.file} ({item.id})"
        errors.extend(f"{where}: {p}" for p in _item_problems(item, kb, kb_text, bank.topics))
        key = _option_key(item.stem)
        if key in stems:
            errors.append(f"{where}: câu hỏi trùng với {stems[key]}")
        stems.setdefault(key, item.id)
    # Counts and coverage
    items = list(bank.items.values())
    if len(items) < requirements.total:
        errors.append(f"ngân hàng câu hỏi: cần ít nhất {requirements.total} câu (có {len(items)})")
    by_document = Counter(i.document for i in items)
    for document, minimum in requirements.per_document:
        if by_document[document] < minimum:
            errors.append(f"ngân hàng câu hỏi: cần ít nhất {minimum} câu về {document} "
                          f"(có {by_document[document]})")
    by_topic = Counter((i.document, i.topic) for i in items)
    for document, topic, minimum in requirements.per_topic:
        if by_topic[(document, topic)] < minimum:
            errors.append(f"ngân hàng câu hỏi: chủ đề {topic} ({document}) cần ít nhất {minimum} "
                          f"câu (có {by_topic[(document, topic)]})")
    tested = {i.entry for i in items}
    for document, topic in requirements.every_entry_of:
        for entry in kb.entries.values():
            if entry.home == document and entry.topic == topic and entry.id not in tested:
                errors.append(f"ngân hàng câu hỏi: chưa có câu nào hỏi về mục {entry.id} "
                              f"({document}, {topic})")
    longest = [i for i in items if len(i.options) == OPTION_COUNT and len(i.answers) == 1
               and 0 <= i.correct < OPTION_COUNT
               and max(range(OPTION_COUNT), key=lambda n: len(i.options[n])) == i.correct]
    if len(items) >= 20 and len(longest) > MAX_LONGEST_SHARE * len(items):
        errors.append(f"ngân hàng câu hỏi: chọn phương án dài nhất thì đúng {len(longest)}/"
                      f"{len(items)} câu (tối đa {MAX_LONGEST_SHARE:.0%}): viết phương án nhiễu "
                      "dài tương đương phương án đúng")
    positions = Counter(i.answers[0] for i in items if len(i.answers) == 1)
    if len(items) >= 20 and positions and max(positions.values()) > 0.4 * len(items):
        letter = LETTERS[max(positions, key=lambda p: positions[p]) % 4]
        warnings.append(f"ngân hàng câu hỏi: đáp án đúng dồn vào phương án {letter} "
                        f"({max(positions.values())}/{len(items)} câu)")
    return errors, warnings
