"""The org tree: import from the files units keep (Excel or CSV, Vietnamese headers and level
names), a plan of what a re-import changes, export in the same layout, subtree queries and a
printable tree."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import Boolean, ColumnElement, String, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from bot.db.models import Campaign, Chat, Confirmation, OrgUnit, RoleAssignment, utcnow
from bot.spreadsheet import csv_row
from bot.tables import Table, read_csv_text, write_xlsx
from content.normalize import fold

# Kinds of unit (what the code acts on: a chi bộ confirms, broadcasts may target one kind). The
# label a file used ("Phường", "Chi bộ cơ sở", "Thị xã") is kept beside the kind. Since 1/7/2025
# the tree is tỉnh/thành phố → xã/phường/đặc khu → đảng bộ cơ sở / chi bộ cơ sở → chi bộ; the
# district tier (huyện, quận, thị xã, thành phố thuộc tỉnh) remains in older structures.
LEVELS: dict[str, str] = {
    "trung_uong": "Trung ương",
    "tinh": "Tỉnh/Thành phố",
    "huyen": "Huyện/Quận/Thị xã (cũ)",
    "xa": "Xã/Phường/Đặc khu",
    "dang_bo_co_so": "Đảng bộ cơ sở",
    "chi_bo": "Chi bộ",
}
CELL_KIND = "chi_bo"  # the unit that meets and confirms (chi bộ, chi bộ cơ sở)
# A unit's kind must rank below its parent's; nothing sits under a chi bộ.
RANK = {"trung_uong": 0, "tinh": 1, "huyen": 2, "xa": 3, "dang_bo_co_so": 4, "chi_bo": 5}
_CITY = "?thanh_pho"  # "Thành phố": a province-level city or (legacy) a city of a province
_LEVEL_WORDS: dict[str, str] = {
    "trung uong": "trung_uong", "tw": "trung_uong",
    "tinh": "tinh", "thanh pho truc thuoc trung uong": "tinh", "thanh pho truc thuoc tw": "tinh",
    "tp truc thuoc trung uong": "tinh", "tp truc thuoc tw": "tinh", "tinh thanh pho": "tinh",
    "tinh tp": "tinh",
    "thanh pho": _CITY, "tp": _CITY,
    "huyen": "huyen", "quan": "huyen", "thi xa": "huyen", "thanh pho thuoc tinh": "huyen",
    "tp thuoc tinh": "huyen", "huyen quan": "huyen", "huyen quan thi xa": "huyen",
    "xa": "xa", "phuong": "xa", "dac khu": "xa", "thi tran": "xa", "xa phuong": "xa",
    "xa phuong dac khu": "xa", "xa phuong thi tran": "xa", "cap tren co so": "xa",
    "dang bo cap tren co so": "xa", "dang bo truc thuoc": "xa",
    "dang bo co so": "dang_bo_co_so", "dbcs": "dang_bo_co_so",
    "chi bo co so": "chi_bo", "cbcs": "chi_bo", "chi bo": "chi_bo", "cb": "chi_bo",
    "chi bo truc thuoc": "chi_bo",
}
LEVEL_CHOICES = ("Tỉnh", "Thành phố", "Xã", "Phường", "Đặc khu", "Đảng bộ cơ sở",
                 "Chi bộ cơ sở", "Chi bộ", "Huyện", "Quận", "Thị xã", "Thành phố thuộc tỉnh")
_LEVEL_HELP = ("Tỉnh, Thành phố, Xã, Phường, Đặc khu, Đảng bộ cơ sở, Chi bộ cơ sở, Chi bộ; "
               "cũ: Huyện, Quận, Thị xã, Thành phố thuộc tỉnh; hoặc mã: " + ", ".join(LEVELS))

CSV_COLUMNS = ("code", "name", "level", "parent_code", "members")
HEADER_VI = ("Mã", "Tên", "Cấp", "Mã cấp trên", "Số đảng viên")
_HEADER_WORDS: dict[str, str] = {
    "code": "code", "ma": "code", "ma don vi": "code", "ma to chuc": "code", "ma dv": "code",
    "name": "name", "ten": "name", "ten don vi": "name", "ten to chuc": "name",
    "ten dv": "name",
    "level": "level", "cap": "level", "loai": "level", "cap don vi": "level",
    "loai don vi": "level", "loai hinh": "level",
    "parent code": "parent_code", "parent": "parent_code", "ma cap tren": "parent_code",
    "ma don vi cap tren": "parent_code", "cap tren": "parent_code",
    "don vi cap tren": "parent_code",
    "truc thuoc": "parent_code", "ma truc thuoc": "parent_code",
    "members": "members", "so dang vien": "members", "dang vien": "members", "so dv": "members",
    "so luong dang vien": "members", "sl dang vien": "members", "tong so dang vien": "members",
}
MAX_CODE = 64  # the column; codes are held to MAX_CODE_BYTES by valid_code()
# Button payloads carry unit codes (Telegram allows 64 bytes of callback data): the longest,
# "qc:<campaign>:<code>", still fits with a code of this many UTF-8 bytes.
MAX_CODE_BYTES = 48
_CODE_RE = re.compile(r"[\w.-]+")
MAX_NAME = 255
MAX_LABEL = 64
MAX_MEMBERS = 1_000_000  # members of one unit: more is a typo (and overflows the column)
# "T?nh H?ng Yên": a letter Excel could not save in an ANSI code page became "?"
_LOST_LETTER = re.compile(r"\w\?\w|(?:^|\s)\?\w")
_NUMBER = re.compile(r"\d{1,3}(?:[.,\s]\d{3})+|\d+")


class OrgImportError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    code: str
    name: str
    level: str  # a kind of LEVELS (or _CITY until the parent is known)
    parent_code: str
    members: int
    label: str | None = None  # the level as written, when it was not a code


def valid_code(code: str) -> bool:
    """The one rule for unit codes, at import and in button payloads: letters (Vietnamese
    too), digits and - _ . only, at most MAX_CODE_BYTES bytes."""
    return len(code.encode("utf-8")) <= MAX_CODE_BYTES and bool(_CODE_RE.fullmatch(code))


def level_label(level: str) -> str:
    return LEVELS.get(level, level)


def unit_level_label(unit: OrgUnit) -> str:
    return unit.level_label or level_label(unit.level)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


def resolve_level(text: str) -> tuple[str, str | None] | None:
    """("tinh", "Tỉnh") for "tỉnh", "TINH", "Đảng bộ tỉnh", ("chi_bo", "Chi bộ cơ sở") for
    "chi bo co so", (code, None) for a code; None when the text names no kind of unit."""
    raw = " ".join(text.split())
    if raw in LEVELS:
        return raw, None
    words = _words(raw.replace("_", " "))
    kind = _LEVEL_WORDS.get(words)
    if kind is None:
        for prefix in ("dang bo ", "dang uy ", "cap "):
            if words.startswith(prefix) and words[len(prefix):] in _LEVEL_WORDS:
                kind = _LEVEL_WORDS[words[len(prefix):]]
                break
    if kind is None:
        return None
    if raw.lower() == raw or raw.upper() == raw:  # "xã", "PHƯỜNG" → "Xã", "Phường"
        raw = raw[:1].upper() + raw[1:].lower()
    return kind, raw[:MAX_LABEL]


_UNIT_WORDS = ("dang bo ", "chi bo ", "dang uy ", "to chuc co so dang ")


def unit_title(unit: OrgUnit) -> str:
    """The name with the file's label in front when the name does not say what it is:
    ("Tân Tiến", "Phường") → "Phường Tân Tiến"; "Đảng bộ phường Tân Tiến" stays as it is."""
    label = unit.level_label
    name = _words(unit.name)
    if not label or _words(label) in name or (name + " ").startswith(_UNIT_WORDS):
        return unit.name
    return f"{label} {unit.name}"


def _label_said(unit: OrgUnit) -> bool:
    """Whether `unit_title` already tells the unit's level."""
    label = unit.level_label
    return bool(label) and _words(label) in _words(unit_title(unit))


def parse_members(text: str) -> int | None:
    """"228", "1.200", "1 200" → the number; None when it is not a count within bounds."""
    text = text.strip()
    if not text:
        return 0
    if not _NUMBER.fullmatch(text):
        return None
    value = int(re.sub(r"\D", "", text))
    return value if value <= MAX_MEMBERS else None


# -- reading a file ----------------------------------------------------------------------------
def _header_index(table: Table) -> tuple[int, dict[str, int]] | None:
    """Where the header is (a title row above it is allowed) and which column holds what."""
    for position, (_line, cells) in enumerate(table.rows[:10]):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            key = _HEADER_WORDS.get(_words(cell.replace("_", " ")))
            if key is not None and key not in columns:
                columns[key] = index
        if {"code", "name", "level"} <= set(columns):
            return position, columns
    return None


def parse_table(table: Table) -> tuple[list[_Row], list[str]]:
    """Rows of an org file and every problem found in it (by line, nothing raised): the
    checks that need the database come later, in `plan_import`."""
    found = _header_index(table)
    if found is None:
        first = table.rows[0][0] if table.rows else 1
        return [], [f"Dòng {first}: không thấy dòng tiêu đề (cần các cột: "
                    f"{', '.join(HEADER_VI)} — hoặc {','.join(CSV_COLUMNS)})"]
    position, columns = found
    problems: list[str] = []
    if "parent_code" not in columns:
        problems.append(f"Dòng {table.rows[position][0]}: thiếu cột «Mã cấp trên» "
                        "(parent_code); đơn vị gốc để trống ô này")
    rows: list[_Row] = []
    seen: dict[str, int] = {}

    def cell(cells: list[str], key: str) -> str:
        index = columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    for line, cells in table.rows[position + 1:]:
        if not any(c.strip() for c in cells):
            continue
        code, name, level_text = cell(cells, "code"), cell(cells, "name"), cell(cells, "level")
        parent, members_text = cell(cells, "parent_code"), cell(cells, "members")
        name = " ".join(name.split())
        if not valid_code(code):
            problems.append(f"Dòng {line}: mã đơn vị trống, quá dài (tối đa {MAX_CODE_BYTES} "
                            "chữ không dấu) hoặc có ký tự khác chữ, số và - _ .")
        elif code in seen:
            problems.append(f"Dòng {line}: mã {code} trùng với dòng {seen[code]}")
        else:
            seen[code] = line
        if not name or len(name) > MAX_NAME:
            problems.append(f"Dòng {line}: tên đơn vị trống hoặc dài quá {MAX_NAME} ký tự")
        elif _LOST_LETTER.search(name) or "\ufffd" in name:
            problems.append(f"Dòng {line}: tên «{name}» có dấu «?» — chữ Việt đã mất khi lưu "
                            "tệp (bảng mã ANSI); lưu lại bằng «CSV UTF-8» hoặc dùng tệp .xlsx")
        resolved = resolve_level(level_text)
        if resolved is None:
            problems.append(f"Dòng {line}: cấp '{level_text}' không hợp lệ (dùng: {_LEVEL_HELP})")
            resolved = ("", None)
        members = parse_members(members_text)
        if members is None:
            bound = f"{MAX_MEMBERS:,}".replace(",", ".")
            problems.append(f"Dòng {line}: số đảng viên '{members_text[:20]}' phải là số "
                            f"nguyên từ 0 đến {bound}")
            members = 0
        if parent and parent == code:
            problems.append(f"Dòng {line}: đơn vị không thể là cấp trên của chính nó")
        rows.append(_Row(line, code, name, resolved[0], parent, members, resolved[1]))
    if not rows and not problems:
        problems.append(f"Dòng {table.rows[position][0] + 1}: tệp không có đơn vị nào")
    return rows, problems


def parse_csv(text: str) -> list[_Row]:
    """Validate every row of CSV text; raise OrgImportError listing each bad line."""
    rows, problems = parse_table(read_csv_text(text))
    if problems:
        raise OrgImportError(problems)
    return rows


# -- planning and applying an import ---------------------------------------------------------
@dataclass
class Blocked:
    code: str
    name: str
    reasons: list[str]


@dataclass
class ImportPlan:
    rows: list[_Row]
    added: list[_Row] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old, new
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # code, old, new parent
    changed: list[tuple[str, str]] = field(default_factory=list)  # code, what (level, members)
    removed: list[OrgUnit] = field(default_factory=list)
    unchanged: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.renamed or self.moved or self.changed or self.removed)

    def describe(self, limit: int = 20) -> list[str]:
        """What the import will do, in Vietnamese, a few examples of each kind of change."""
        def some(items: list[str]) -> str:
            more = f" và {len(items) - limit} đơn vị khác" if len(items) > limit else ""
            return "; ".join(items[:limit]) + more

        lines = []
        if self.added:
            lines.append(f"Thêm {len(self.added)}: "
                         + some([f"{r.code} {r.name}" for r in self.added]))
        if self.renamed:
            lines.append(f"Đổi tên {len(self.renamed)}: "
                         + some([f"{c} «{old}» → «{new}»" for c, old, new in self.renamed]))
        if self.moved:
            lines.append(f"Chuyển cấp trên {len(self.moved)}: "
                         + some([f"{c} {old or '(gốc)'} → {new or '(gốc)'}"
                                 for c, old, new in self.moved]))
        if self.changed:
            lines.append(f"Sửa {len(self.changed)}: "
                         + some([f"{c} ({what})" for c, what in self.changed]))
        if self.removed:
            lines.append(f"Xóa {len(self.removed)} (có trong cơ sở dữ liệu, không có trong tệp): "
                         + some([f"{u.code} {u.name}" for u in self.removed]))
        lines.append(f"Không đổi: {self.unchanged}.")
        return lines


async def plan_import(session: AsyncSession, rows: list[_Row], problems: Sequence[str] = (),
                      *, removals: bool = True) -> ImportPlan:
    """Compare the file with the database; raise OrgImportError with every problem (those of
    the file itself, passed in, and unknown parents, cycles, a level under a level it cannot
    belong to, removals that would lose data), sorted by line."""
    problems = list(problems)
    existing = {u.code: u for u in (await session.scalars(select(OrgUnit))).all()}
    id_to_code = {u.id: code for code, u in existing.items()}
    by_code = {r.code: r for r in rows if r.code}
    parents: dict[str, str | None] = {
        code: id_to_code.get(u.parent_id) for code, u in existing.items()}
    parents.update({r.code: r.parent_code or None for r in rows if r.code})
    for r in rows:
        if r.parent_code and r.parent_code not in by_code and r.parent_code not in existing:
            problems.append(f"Dòng {r.line}: không tìm thấy đơn vị cấp trên {r.parent_code}")
    for r in rows:
        seen: set[str] = set()
        node: str | None = r.code
        while node is not None:
            if node in seen:
                problems.append(f"Dòng {r.line}: vòng lặp cấp trên quanh mã {r.code}")
                break
            seen.add(node)
            node = parents.get(node)

    def kind_of(code: str | None) -> str | None:
        if code is None:
            return None
        if code in by_code:
            return by_code[code].level or None
        unit = existing.get(code)
        return unit.level if unit is not None else None

    for r in rows:  # "Thành phố": under a province it is a (legacy) city of the province
        if r.level == _CITY:
            parent_kind = kind_of(r.parent_code or None)
            r.level = "tinh" if parent_kind in (None, "trung_uong", _CITY) else "huyen"
    for r in rows:
        parent_kind = kind_of(r.parent_code or None)
        if r.level and parent_kind in RANK and RANK[r.level] <= RANK[parent_kind]:
            parent = by_code.get(r.parent_code)
            parent_label = (parent.label if parent is not None else
                            unit_level_label(existing[r.parent_code])) or level_label(parent_kind)
            label = r.label or level_label(r.level)
            problems.append(f"Dòng {r.line}: {label.lower()} không thể trực thuộc "
                            f"{parent_label.lower()} {r.parent_code}")

    plan = ImportPlan(rows)
    for r in rows:
        unit = existing.get(r.code)
        if unit is None:
            plan.added.append(r)
            continue
        old_parent = id_to_code.get(unit.parent_id) or ""
        same = True
        if unit.name != r.name:
            plan.renamed.append((r.code, unit.name, r.name))
            same = False
        if old_parent != r.parent_code:
            plan.moved.append((r.code, old_parent, r.parent_code))
            same = False
        what = []
        if (unit.level, unit.level_label) != (r.level, r.label):
            what.append(f"cấp {unit_level_label(unit)} → {r.label or level_label(r.level)}")
        if unit.members != r.members:
            what.append(f"đảng viên {unit.members} → {r.members}")
        if what:
            plan.changed.append((r.code, ", ".join(what)))
            same = False
        plan.unchanged += same
    if removals:
        plan.removed = _removed(existing, id_to_code, by_code)
        problems.extend(await _removal_problems(session, plan.removed))
    if problems:
        raise OrgImportError(_by_line(problems))
    return plan


def _removed(existing: dict[str, OrgUnit], id_to_code: dict[int, str],
             by_code: dict[str, _Row]) -> list[OrgUnit]:
    """Units the file leaves out under the branches it covers: a file covers the subtree of
    each of its top rows (rows whose parent is not in the file), as the database has it."""
    tops = [existing[c] for c, r in by_code.items()
            if c in existing and r.parent_code not in by_code]
    prefixes = [u.path for u in tops]
    return sorted((u for code, u in existing.items()
                   if code not in by_code and any(u.path.startswith(p) for p in prefixes)),
                  key=_tree_order)


async def _removal_problems(session: AsyncSession, units: list[OrgUnit]) -> list[str]:
    if not units:
        return []
    ids = [u.id for u in units]

    async def counts(column) -> dict[int, int]:  # type: ignore[no-untyped-def]
        rows = await session.execute(select(column, func.count()).where(column.in_(ids))
                                     .group_by(column))
        return {unit_id: n for unit_id, n in rows.all()}

    confirmed = await counts(Confirmation.unit_id)
    groups = await counts(Chat.org_unit_id)
    campaigns = await counts(Campaign.scope_unit_id)
    roles = await counts(RoleAssignment.org_unit_id)
    problems = []
    for u in units:
        reasons = []
        if confirmed.get(u.id):
            reasons.append(f"có {confirmed[u.id]} xác nhận quán triệt")
        if groups.get(u.id):
            reasons.append(f"có {groups[u.id]} nhóm chat liên kết")
        if campaigns.get(u.id):
            reasons.append(f"là phạm vi của {campaigns[u.id]} đợt quán triệt")
        if roles.get(u.id):
            reasons.append(f"có {roles[u.id]} người giữ vai trò ở đơn vị này")
        if reasons:
            problems.append(f"Không xóa được {u.code} ({u.name}, có trong cơ sở dữ liệu nhưng "
                            f"không có trong tệp): {', '.join(reasons)}. Giữ dòng của đơn vị "
                            "này trong tệp, hoặc hủy liên kết/vai trò trước")
    return problems


def _by_line(problems: list[str]) -> list[str]:
    def key(problem: str) -> tuple[int, int]:
        match = re.match(r"Dòng (\d+):", problem)
        return (0, int(match.group(1))) if match else (1, 0)

    return sorted(dict.fromkeys(problems), key=key)


async def apply_plan(session: AsyncSession, plan: ImportPlan) -> ImportReport:
    """Create, update, re-parent and remove in the caller's transaction."""
    existing = {u.code: u for u in (await session.scalars(select(OrgUnit))).all()}
    report = ImportReport(unchanged=plan.unchanged)
    now = utcnow()
    units = dict(existing)
    for r in plan.rows:
        unit = units.get(r.code)
        if unit is None:
            unit = OrgUnit(code=r.code, name=r.name, level=r.level, level_label=r.label,
                           members=r.members, path="", depth=0, created_at=now, updated_at=now)
            session.add(unit)
            units[r.code] = unit
            report.created += 1
        else:
            fields = (r.name, r.level, r.label, r.members)
            if (unit.name, unit.level, unit.level_label, unit.members) != fields:
                unit.name, unit.level, unit.level_label, unit.members = fields
                unit.updated_at = now
    report.updated = len({c for c, *_ in plan.renamed} | {c for c, *_ in plan.moved}
                         | {c for c, _ in plan.changed})
    await session.flush()  # ids for new units
    for r in plan.rows:
        parent = units[r.parent_code].id if r.parent_code else None
        if units[r.code].parent_id != parent:
            units[r.code].parent_id = parent
            units[r.code].updated_at = now
    removed = {u.code for u in plan.removed}
    for unit in sorted(plan.removed, key=lambda u: -u.depth):  # children before parents
        await session.execute(delete(OrgUnit).where(OrgUnit.id == unit.id))
        del units[unit.code]
    report.removed = len(removed)
    _rebuild_paths(units.values())
    await session.flush()
    return report


async def import_units(session: AsyncSession, rows: list[_Row]) -> ImportReport:
    """Create or update units in one transaction (nothing removed); idempotent. Parents may
    come in any order."""
    plan = await plan_import(session, rows, removals=False)
    return await apply_plan(session, plan)


def _rebuild_paths(units: Iterable[OrgUnit]) -> None:
    by_id = {u.id: u for u in units}
    memo: dict[int, tuple[str, int]] = {}

    def resolve(unit: OrgUnit) -> tuple[str, int]:
        if unit.id in memo:
            return memo[unit.id]
        if unit.parent_id is None:
            result = (f"/{unit.id}/", 0)
        else:
            parent_path, parent_depth = resolve(by_id[unit.parent_id])
            result = (f"{parent_path}{unit.id}/", parent_depth + 1)
        memo[unit.id] = result
        return result

    for unit in by_id.values():
        unit.path, unit.depth = resolve(unit)


async def get_unit(session: AsyncSession, code: str) -> OrgUnit | None:
    return await session.scalar(select(OrgUnit).where(OrgUnit.code == code))


async def subtree(session: AsyncSession, root: OrgUnit) -> list[OrgUnit]:
    """The unit and everything below it, in tree order (one indexed prefix query)."""
    result = await session.scalars(
        select(OrgUnit).where(OrgUnit.path.startswith(root.path, autoescape=True))
    )
    return sorted(result.all(), key=_tree_order)


def is_within(unit: OrgUnit, scope: OrgUnit) -> bool:
    return unit.path.startswith(scope.path)


def _tree_order(unit: OrgUnit) -> tuple[int, ...]:
    return tuple(int(part) for part in unit.path.strip("/").split("/"))


async def export_rows(session: AsyncSession) -> list[list[object]]:
    """Every unit in tree order as the import reads it: code, name, level (the file's label
    when it had one), parent code, members."""
    units = sorted((await session.scalars(select(OrgUnit))).all(), key=_tree_order)
    code_of = {u.id: u.code for u in units}
    return [[u.code, u.name, u.level_label or u.level, code_of.get(u.parent_id, ""), u.members]
            for u in units]


async def export_csv(session: AsyncSession) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    # a name like "=HYPERLINK(…)" is neutralised for spreadsheets; import takes it back
    writer.writerows(csv_row(row) for row in await export_rows(session))
    return out.getvalue()


def xlsx_book(rows: list[list[object]]) -> bytes:
    """The import layout as an Excel workbook: Vietnamese headers, a drop-down of levels."""
    return write_xlsx("Cây tổ chức", HEADER_VI, rows, widths=(14, 40, 18, 14, 14),
                      choices={2: LEVEL_CHOICES}, choices_rows=max(2000, len(rows) + 1000))


TEMPLATE_ROWS = [
    ["X01", "Đảng bộ phường Tân Tiến", "Phường", "", 228],
    ["X01-CB01", "Chi bộ khu phố 1", "Chi bộ", "X01", 32],
]


async def export_xlsx(session: AsyncSession) -> bytes:
    return xlsx_book(await export_rows(session))


async def render_tree(session: AsyncSession, code: str | None = None) -> str:
    if code:
        root = await get_unit(session, code)
        if root is None:
            raise LookupError(f"Không có đơn vị mã {code}")
        units = await subtree(session, root)
        base = root.depth
    else:
        units = list((await session.scalars(select(OrgUnit))).all())
        base = 0
    units.sort(key=_tree_order)
    cells, counted = _cell_totals(units)
    lines = []
    for u in units:
        parts = [] if _label_said(u) else [unit_level_label(u)]
        if u.level == CELL_KIND:
            parts.append(f"{u.members} đảng viên")
        else:
            parts.append(f"{cells[u.id]} chi bộ, {counted[u.id]} đảng viên")
            if u.members and u.members != counted[u.id]:
                parts[-1] += f"; tệp ghi {u.members}"
        lines.append(f"{'  ' * (u.depth - base)}{u.code} · {unit_title(u)} ({', '.join(parts)})")
    return "\n".join(lines)


def _cell_totals(units: list[OrgUnit]) -> tuple[dict[int, int], dict[int, int]]:
    """Chi bộ and their members under each unit (of the units given, a whole subtree): the
    one denominator reports use."""
    cells = {u.id: 0 for u in units}
    members = {u.id: 0 for u in units}
    for u in units:
        if u.level != CELL_KIND:
            continue
        for part in u.path.strip("/").split("/"):
            unit_id = int(part)
            if unit_id in cells:
                cells[unit_id] += 1
                members[unit_id] += u.members
    return cells, members


class _PathUnder(ColumnElement[bool]):
    """`path` starts with a materialised-path prefix, written so each database uses its index:
    LIKE 'prefix%' on PostgreSQL (varchar_pattern_ops), GLOB 'prefix*' on SQLite (its LIKE is
    case-insensitive and cannot use a BINARY index; paths hold only digits and '/')."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" appended on SQLite
    _traverse_internals: ClassVar[list[tuple[str, InternalTraversal]]] = [
        ("column", InternalTraversal.dp_clauseelement),
        ("like", InternalTraversal.dp_clauseelement),
        ("glob", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[str], prefix: str) -> None:
        self.column = column
        self.like = bindparam(None, prefix + "%", type_=String())
        self.glob = bindparam(None, prefix + "*", type_=String())


@compiles(_PathUnder)
def _path_under_default(element: _PathUnder, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    column = compiler.process(element.column, **kw)
    return f"{column} LIKE {compiler.process(element.like, **kw)}"


@compiles(_PathUnder, "sqlite")
def _path_under_sqlite(element: _PathUnder, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    column = compiler.process(element.column, **kw)
    return f"{column} GLOB {compiler.process(element.glob, **kw)}"


def path_under(prefix: str, column: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """Rows whose path lies in the subtree whose path is `prefix` (the root included)."""
    if not prefix.startswith("/") or not set(prefix) <= set("0123456789/"):
        raise ValueError(f"not a materialised path: {prefix!r}")
    return _PathUnder(column if column is not None else OrgUnit.path, prefix)
