"""The knowledge base: documents, topics and Q&A entries loaded from YAML files in `content/kb/`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

KB_DIR = Path(__file__).resolve().parent / "kb"
# libyaml's C loader when PyYAML was built with it (about ten times faster), else pure Python.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
REGISTRY_FILE = "documents.yaml"
# Extra phrasings written by a separate author (entry id -> list of wordings), one file per
# document file, merged into the entries' phrasings when the knowledge base is loaded.
PHRASINGS_DIR = "phrasings"


class KnowledgeBaseError(ValueError):
    """A knowledge-base file cannot be read as the format requires."""


@dataclass(frozen=True)
class Document:
    key: str
    number: str
    kind: str
    date: str
    issuer: str
    title: str
    short: str
    scope: str
    keys: tuple[str, ...]
    signer: str = ""
    overview: str = ""  # id of the entry that says what the document is and what it contains
    names: tuple[str, ...] = ()  # how people name it without a number ("Luật Chuyển đổi số")

    @property
    def full_name(self) -> str:
        return f"{self.kind} số {self.number}"


@dataclass(frozen=True)
class Topic:
    document: str
    id: str
    title: str


@dataclass(frozen=True)
class Entry:
    id: str
    document: str
    topic: str
    section: str
    question: str
    phrasings: tuple[str, ...]
    answer: str  # the short answer shown first (at most 450 characters, the key fact first)
    source: str
    related: tuple[str, ...] = ()
    confidence: str = ""
    basis: str = ""
    file: str = ""
    home: str = ""  # the document whose topics list this entry (the file's document)
    more: str = ""  # the rest of the answer, shown after a "Xem thêm" button

    @property
    def full_answer(self) -> str:
        """The short answer followed by the rest, for places with room for both."""
        return f"{self.answer}\n\n{self.more}" if self.more else self.answer

    @property
    def variants(self) -> tuple[str, ...]:
        """Every wording the matcher indexes for this entry: the question, then its phrasings."""
        return (self.question, *self.phrasings)


@dataclass
class KnowledgeBase:
    documents: dict[str, Document]
    topics: dict[str, list[Topic]]  # document key -> topics in browsing order
    entries: dict[str, Entry]
    version: str
    out_of_scope_keys: frozenset[str] = frozenset()
    files: list[str] = field(default_factory=list)
    menu_titles: dict[str, str] = field(default_factory=dict)

    def menu_title(self, document: str) -> str:
        doc = self.documents.get(document)
        return self.menu_titles.get(document) or (doc.short if doc else document)

    def entries_for(self, document: str, topic: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.home == document and e.topic == topic]

    def topic(self, document: str, topic_id: str) -> Topic | None:
        return next((t for t in self.topics.get(document, []) if t.id == topic_id), None)

    def overview_entry(self, document: str) -> Entry | None:
        """The entry that says what a document is and what it says, if the base has one."""
        doc = self.documents.get(document)
        if doc is None:
            return None
        return self.entries.get(doc.overview) or self.entries.get(
            f"{document.lower()}-thong-tin-chung"
        )

    def browsable_documents(self) -> list[Document]:
        """Documents that have their own topics, core documents first."""
        docs = [d for d in self.documents.values() if self.topics.get(d.key)]
        return sorted(docs, key=lambda d: (d.scope != "core", list(self.documents).index(d.key)))


def _require(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item or item[key] in (None, ""):
        raise KnowledgeBaseError(f"{where}: thiếu trường '{key}'")
    return item[key]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path.name}: YAML không hợp lệ: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path.name}: tệp phải là một bảng YAML")
    return data


def compute_version(kb_dir: Path = KB_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted([*kb_dir.glob("*.yaml"), *(kb_dir / PHRASINGS_DIR).glob("*.yaml")]):
        digest.update(path.relative_to(kb_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return "kb-" + digest.hexdigest()[:12]


def load_kb(kb_dir: Path = KB_DIR) -> KnowledgeBase:
    registry = _read_yaml(kb_dir / REGISTRY_FILE)
    documents: dict[str, Document] = {}
    for i, raw in enumerate(registry.get("documents") or [], start=1):
        where = f"{REGISTRY_FILE} #{i}"
        doc = Document(
            key=_require(raw, "key", where),
            number=_require(raw, "number", where),
            kind=_require(raw, "kind", where),
            date=str(_require(raw, "date", where)),
            issuer=_require(raw, "issuer", where),
            title=_require(raw, "title", where),
            short=_require(raw, "short", where),
            scope=raw.get("scope", "context"),
            keys=tuple(raw.get("keys") or ()),
            signer=raw.get("signer", ""),
            overview=str(raw.get("overview") or ""),
            names=tuple(raw.get("names") or ()),
        )
        documents[doc.key] = doc

    topics: dict[str, list[Topic]] = {}
    entries: dict[str, Entry] = {}
    files: list[str] = []
    menu_titles: dict[str, str] = {}
    for path in sorted(kb_dir.glob("*.yaml")):
        if path.name == REGISTRY_FILE:
            continue
        files.append(path.name)
        data = _read_yaml(path)
        file_doc = _require(data, "document", path.name)
        if data.get("menu_title"):
            menu_titles[file_doc] = str(data["menu_title"])
        for raw_topic in data.get("topics") or []:
            topic = Topic(
                document=file_doc,
                id=_require(raw_topic, "id", path.name),
                title=_require(raw_topic, "title", path.name),
            )
            topics.setdefault(file_doc, []).append(topic)
        for i, raw in enumerate(data.get("entries") or [], start=1):
            where = f"{path.name} #{i}"
            entry_id = _require(raw, "id", where)
            where = f"{path.name} ({entry_id})"
            if entry_id in entries:
                raise KnowledgeBaseError(f"{where}: id bị trùng với {entries[entry_id].file}")
            entries[entry_id] = Entry(
                id=entry_id,
                document=raw.get("document") or file_doc,
                topic=_require(raw, "topic", where),
                section=str(_require(raw, "section", where)),
                question=_require(raw, "question", where).strip(),
                phrasings=tuple(str(p).strip() for p in (raw.get("phrasings") or [])),
                answer=" ".join(str(_require(raw, "answer", where)).split()),
                source=_require(raw, "source", where),
                related=tuple(raw.get("related") or ()),
                confidence=str(raw.get("confidence", "")),
                basis=str(raw.get("basis", "")),
                file=path.name,
                home=file_doc,
                more=" ".join(str(raw.get("more") or "").split()),
            )
    _merge_extra_phrasings(kb_dir, entries)
    for doc in documents.values():
        if doc.overview and doc.overview not in entries:
            raise KnowledgeBaseError(
                f"{REGISTRY_FILE} ({doc.key}): mục tổng quan '{doc.overview}' không tồn tại"
            )
    return KnowledgeBase(
        documents=documents,
        topics=topics,
        entries=entries,
        version=compute_version(kb_dir),
        out_of_scope_keys=frozenset(registry.get("out_of_scope_keys") or ()),
        files=files,
        menu_titles=menu_titles,
    )


def _merge_extra_phrasings(kb_dir: Path, entries: dict[str, Entry]) -> None:
    from dataclasses import replace

    for path in sorted((kb_dir / PHRASINGS_DIR).glob("*.yaml")):
        data = _read_yaml(path)
        for entry_id, wordings in data.items():
            entry = entries.get(entry_id)
            if entry is None:
                raise KnowledgeBaseError(f"{PHRASINGS_DIR}/{path.name}: không có mục '{entry_id}'")
            if not isinstance(wordings, list):
                raise KnowledgeBaseError(f"{PHRASINGS_DIR}/{path.name} ({entry_id}): cần danh sách")
            extra = tuple(str(w).strip() for w in wordings if str(w).strip())
            entries[entry_id] = replace(entry, phrasings=(*entry.phrasings, *extra))


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    return load_kb()
