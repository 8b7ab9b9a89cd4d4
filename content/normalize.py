"""Vietnamese text normalisation for question matching.

Every string the matcher compares (knowledge-base phrasings and user questions) goes through
`analyze`, so both sides are normalised identically:

* NFC, look-alike letters (Ð U+00D0 → Đ), control characters removed, lower case;
* a placement-insensitive accented form ("hoà" = "hòa", "thuỷ" = "thủy");
* a folded form without diacritics (đ → d), which is what retrieval indexes;
* letter/digit runs split ("nq57" → "nq 57"), curated abbreviations and chat shorthand expanded;
* document references ("57-NQ/TW", "nq 57", "nghị quyết số 57") parsed into keys such as "NQ:57".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# huyền, sắc, ngã, hỏi, nặng
_TONE_MARKS = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
_LOOKALIKES = str.maketrans({"\u00d0": "Đ", "\u00f0": "đ", "\u0189": "Đ"})
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal escapes pasted with text
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]")

# Abbreviations recognised whole-token in the folded text. Order does not matter: each maps one
# token to its expansion. Kept small and explicit (see shared/reference/matching.md §1.4).
ABBREVIATIONS: dict[str, str] = {
    "nq": "nghi quyet",
    "kl": "ket luan",
    "hd": "huong dan",
    "qd": "quyet dinh",
    "tw": "trung uong",
    "bct": "bo chinh tri",
    "bch": "ban chap hanh",
    "btg": "ban tuyen giao",
    "bcd": "ban chi dao",
    "bcđ": "ban chi dao",
    "khcn": "khoa hoc cong nghe",
    "kh&cn": "khoa hoc cong nghe",
    "khvcn": "khoa hoc cong nghe",
    "dmst": "doi moi sang tao",
    "cds": "chuyen doi so",
    "cnh": "cong nghiep hoa",
    "hdh": "hien dai hoa",
    "kt-xh": "kinh te xa hoi",
    "ktxh": "kinh te xa hoi",
    "r&d": "nghien cuu phat trien",
    "rd": "nghien cuu phat trien",
    "ai": "",  # placeholder, see _expand_case_sensitive; lowercase "ai" means "who"
    "cp": "chinh phu",
    "qh": "quoc hoi",
    "mttq": "mat tran to quoc",
    "dn": "doanh nghiep",
    "dnnn": "doanh nghiep nha nuoc",
    "nsnn": "ngan sach nha nuoc",
    "gdp": "gdp",
    "tp": "thanh pho",
    "vn": "viet nam",
    "ubnd": "uy ban nhan dan",
    "hcm": "ho chi minh",
    "cntt": "cong nghe thong tin",
    "cnc": "cong nghe cao",
    "kh-cn": "khoa hoc cong nghe",
    "btgdvtw": "ban tuyen giao va dan van trung uong",
    "btgdv": "ban tuyen giao va dan van",
    "btgtw": "ban tuyen giao trung uong",
    "hdnd": "hoi dong nhan dan",
    "bchtw": "ban chap hanh trung uong",
    "cq": "co quan",
    "dv": "dang vien",
    "cb": "chi bo",
    # chat shorthand ("teen code"): whole tokens only
    "ko": "khong",
    "k": "khong",
    "kh": "khong",
    "hok": "khong",
    "khum": "khong",
    "hong": "khong",
    "j": "gi",
    "bn": "bao nhieu",
    "bnh": "bao nhieu",
    "nhiu": "nhieu",
    "bnhieu": "bao nhieu",
    "may": "bao nhieu",  # "mấy" (how many); "máy" (machine) does not occur in these documents
    "ntn": "nhu the nao",
    "sao": "sao",
    "dc": "duoc",
    "vs": "voi",
    "ng": "nguoi",
    "cx": "cung",
    "mk": "minh",
    "e": "em",
    "nc": "nuoc",
    "nv": "nhiem vu",
    "mt": "muc tieu",
    "gp": "giai phap",
    "qt": "quan triet",
    "nx": "nhung",
    "kte": "kinh te",
    "tgia": "tham gia",
    "ndung": "noi dung",
}
# "ai" is handled case-sensitively: "AI" is artificial intelligence, "ai" is "who".
ABBREVIATIONS.pop("ai")
_CASE_SENSITIVE = {"AI": "tri tue nhan tao", "IoT": "internet van vat", "IOT": "internet van vat"}

# Filler phrases removed from questions (folded, whole-token). Question words are never here.
FILLERS: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "cho em hoi",
        "cho minh hoi",
        "cho toi hoi",
        "cho chau hoi",
        "cho tui hoi",
        "xin hoi",
        "xin cho biet",
        "ad oi",
        "admin oi",
        "bot oi",
        "ban oi",
        "tro ly oi",
        "lam on",
        "giup em",
        "giup minh",
        "giup toi",
        "oi",
        "nhe",
        "a",
        "vay",
    )
)
# One-syllable fillers that fold onto real words ("a" ← ạ/à/á): removed only when the user
# typed the accented filler itself, and never as the first word.
_AMBIGUOUS_FILLERS = {("a",), ("vay",)}
_ACCENTED_FILLERS = {"ạ", "à", "vậy"}

# Document types: surface words (folded) → key type.
_DOC_TYPES: dict[str, str] = {
    "nghi quyet": "NQ",
    "ket luan": "KL",
    "huong dan": "HD",
    "quyet dinh": "QD",
    "ke hoach": "KH",
    "chi thi": "CT",
    "luat": "LUAT",
    "thong bao": "TB",
    "cong van": "CV",
    "chuong trinh": "CTR",
}
_CODE_TYPES = {
    "nq": "NQ",
    "kl": "KL",
    "hd": "HD",
    "qd": "QD",
    "kh": "KH",
    "ct": "CT",
    "tb": "TB",
    "cv": "CV",
    "ctr": "CTR",
    "ctrhd": "CTR",
}
# "57-NQ/TW", "57 - nq/tw", "03/NQ-CP", "149-HD/BTGTW", "01-KH/BTGDVTU", "229-QD/TW"
_CODE_RE = re.compile(
    r"\b(\d{1,4})\s*[-/]\s*(nq|kl|hd|qd|kh|ct|tb|cv|ctr|ctrhd)\s*[-/]\s*([a-z0-9đ]+)\b"
)
# "193/2025/QH15", "93/2025/qh15"
_QH_CODE_RE = re.compile(r"\b(\d{1,4})\s*/\s*(?:19|20)\d\d\s*/\s*qh\s*\d*\b")
_WORD_NUM_RE = re.compile(
    r"\b(nghi quyet|ket luan|huong dan|quyet dinh|ke hoach|chi thi|luat|thong bao|cong van|"
    r"chuong trinh|nq|kl|hd|qd|ct|tb|cv)\s*(?:so\s*)?(\d{1,4})\b"
)
_KHCN_RE = re.compile(r"\bkh\s*[-/]\s*cn\b")
_GOV_HINT_RE = re.compile(r"\b(cp|chinh phu)\b")
_TOKEN_RE = re.compile(r"[a-z0-9đ&]+")
_SPLIT_ALNUM_RE = re.compile(r"(?<=[a-zđ])(?=\d)|(?<=\d)(?=[a-zđ])")
_HAS_LETTER_OR_DIGIT = re.compile(r"[0-9a-zA-Zà-ỹÀ-ỸđĐ]")


def clean(text: str) -> str:
    """NFC, look-alike letters fixed, control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text or "").translate(_LOOKALIKES)
    text = _CONTROL.sub(" ", _ANSI_ESCAPE.sub(" ", text))
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lower case without diacritics: "Nghị quyết Đảng" -> "nghi quyet dang"."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).lower())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d")


def tone_key(syllable: str) -> str:
    """Placement-insensitive accented form: "hòa" and "hoà" -> "hoa2"; "đảng" -> "đang3"."""
    decomposed = unicodedata.normalize("NFD", syllable.lower())
    tone = "".join(_TONE_MARKS[c] for c in decomposed if c in _TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return base + tone


def has_diacritics(text: str) -> bool:
    return fold(text) != text.lower()


def has_content(text: str) -> bool:
    return bool(_HAS_LETTER_OR_DIGIT.search(text or ""))


def _strip_number(num: str) -> int:
    return int(num.lstrip("0") or "0")


def extract_doc_keys(folded: str) -> set[str]:
    """Parse every document reference in folded text into canonical keys.

    "57-nq/tw" -> NQ:57; "03/nq-cp" -> NQCP:3; "193/2025/qh15" -> QH:193; "nghi quyet so 57" ->
    NQ:57; "luat 93" -> LUAT:93. A bare NQ reference in a question that also names the Government
    ("chinh phu", "cp") additionally yields NQCP:n, so "nghị quyết 03 của Chính phủ" works.
    Strict keys carry a suffix marker ("!"), e.g. "NQ:71!" for "71-NQ/TW": the issuer was explicit.
    """
    keys: set[str] = set()
    for num, kind, issuer in _CODE_RE.findall(folded):
        n = _strip_number(num)
        ktype = _CODE_TYPES[kind]
        if ktype == "NQ" and issuer.startswith("cp"):
            keys.add(f"NQCP:{n}!")
        elif ktype == "NQ" and issuer.startswith("tw"):
            keys.add(f"NQ:{n}!")
        else:
            keys.add(f"{ktype}:{n}")
    for num in _QH_CODE_RE.findall(folded):
        keys.add(f"QH:{_strip_number(num)}")
    coded = {k.split(":")[1].rstrip("!") for k in keys if not k.startswith("QH:")}
    gov_hint = bool(_GOV_HINT_RE.search(folded))
    for word, num in _WORD_NUM_RE.findall(folded):
        n = _strip_number(num)
        if 1900 <= n <= 2099 and len(num) == 4:
            continue  # a year ("kế hoạch 2025"), not a document number
        if str(n) in coded:
            continue  # already captured with its issuer from the code form
        ktype = _DOC_TYPES.get(word) or _CODE_TYPES[word]
        if f"QH:{n}" in keys:  # "luật 93/2025/QH15", "nghị quyết 193/2025/QH15"
            keys.add(f"{ktype}QH:{n}" if ktype == "NQ" else f"{ktype}:{n}")
            continue
        keys.add(f"{ktype}:{n}")
        if ktype == "NQ" and gov_hint:
            keys.add(f"NQCP:{n}")
    return keys


# Document words as typed on a phone: "ngi quyet 57", "nghi kuyet 57", "nghị quết 57",
# "ket luân 69".
# Fixed only right before a document number, so other words are never touched; the number itself
# is never changed ("kl 96" stays another document).
_DOC_WORDS = ("nghi quyet", "ket luan", "huong dan", "ke hoach", "chuong trinh")
_DOC_WORD_BEFORE_NUMBER = re.compile(r"\b([a-z]{2,7}) ?([a-z]{2,7})(?= (?:so )?\d)")


def _fix_document_words(folded: str) -> str:
    from rapidfuzz.distance import Levenshtein

    def fix(match: re.Match[str]) -> str:
        typed = f"{match.group(1)} {match.group(2)}"
        if typed in _DOC_WORDS:
            return typed
        joined = match.group(1) + match.group(2)  # "nghikuyet 57" typed without the space
        for word in _DOC_WORDS:
            allowed = 2 if len(word) >= 9 else 1
            if Levenshtein.distance(joined, word.replace(" ", ""), score_cutoff=allowed) <= allowed:
                return word
        return match.group(0)

    return _DOC_WORD_BEFORE_NUMBER.sub(fix, folded)


def _expand_case_sensitive(text: str) -> str:
    for short, long in _CASE_SENSITIVE.items():
        text = re.sub(rf"(?<![\w]){re.escape(short)}(?![\w])", f" {long} ", text)
    return text


def _strip_fillers(tokens: list[str], accented: list[str]) -> list[str]:
    """Remove filler phrases; an ambiguous one-syllable filler goes only if written accented."""
    out: list[str] = []
    i = 0
    accented_set = set(accented)
    while i < len(tokens):
        for phrase in FILLERS:
            n = len(phrase)
            if tuple(tokens[i : i + n]) == phrase:
                if phrase in _AMBIGUOUS_FILLERS and not (accented_set & _ACCENTED_FILLERS):
                    continue
                if phrase in _AMBIGUOUS_FILLERS and i == 0:
                    continue
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


_ORDINALS = {"nhat": "1", "hai": "2", "ba": "3", "tu": "4", "nam": "5", "sau": "6", "bay": "7",
             "tam": "8", "chin": "9", "muoi": "10"}


def _ordinals_to_digits(tokens: list[str]) -> list[str]:
    """"thứ ba" → "thứ 3" (folded), so ordinals match digits: "quan điểm thứ 3"."""
    out = list(tokens)
    for i in range(1, len(out)):
        if out[i - 1] == "thu" and out[i] in _ORDINALS:
            out[i] = _ORDINALS[out[i]]
    return out


@dataclass(frozen=True)
class Analyzed:
    """A normalised question: the forms every matcher channel uses."""

    original: str
    cleaned: str
    folded: str  # folded, abbreviations expanded, fillers removed, tokens joined by spaces
    tokens: tuple[str, ...]
    doc_keys: frozenset[str] = field(default_factory=frozenset)
    accented: bool = False
    tone_tokens: tuple[str, ...] = ()
    residual: tuple[str, ...] = ()  # tokens once document references ("57-NQ/TW") are removed

    @property
    def bigrams(self) -> tuple[str, ...]:
        return tuple(f"{a}_{b}" for a, b in zip(self.tokens, self.tokens[1:], strict=False))


def analyze(text: str) -> Analyzed:
    cleaned = clean(text)
    expanded = _expand_case_sensitive(cleaned)
    lowered = expanded.lower()
    accented_syllables = re.findall(r"\w+", lowered)
    folded = fold(lowered)
    folded = _KHCN_RE.sub("khcn", folded)
    folded = _fix_document_words(" ".join(_SPLIT_ALNUM_RE.sub(" ", folded).split()))
    doc_keys = extract_doc_keys(folded)
    tokens = _tokens(folded, accented_syllables)
    without_refs = _WORD_NUM_RE.sub(" ", _QH_CODE_RE.sub(" ", _CODE_RE.sub(" ", folded)))
    residual = _tokens(without_refs, accented_syllables)
    is_accented = has_diacritics(cleaned)
    tone_tokens = tuple(tone_key(s) for s in accented_syllables) if is_accented else ()
    return Analyzed(
        original=text,
        cleaned=cleaned,
        folded=" ".join(tokens),
        tokens=tuple(tokens),
        doc_keys=frozenset(doc_keys),
        accented=is_accented,
        tone_tokens=tone_tokens,
        residual=tuple(residual),
    )


def _tokens(folded: str, accented_syllables: list[str]) -> list[str]:
    """Tokens of folded text: abbreviations expanded, fillers removed, ordinals as digits."""
    tokens: list[str] = []
    for tok in _TOKEN_RE.findall(folded):
        expansion = ABBREVIATIONS.get(tok)
        if expansion is None and "&" in tok:
            tokens.extend(t for t in tok.split("&") if t)
            continue
        tokens.extend((expansion if expansion is not None else tok).split())
    return _ordinals_to_digits(_strip_fillers(tokens, accented_syllables))
