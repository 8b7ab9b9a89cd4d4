"""The org tree: CSV import/export, subtree queries and a printable tree."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import Boolean, ColumnElement, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from bot.db.models import OrgUnit, utcnow
from bot.spreadsheet import csv_row, csv_unescape

# Level labels (not fixed tiers: the district tier was abolished in mid-2025 in most places,
# older structures still use it).
LEVELS: dict[str, str] = {
    "trung_uong": "Trung ương",
    "tinh": "Tỉnh/Thành phố",
    "huyen": "Huyện",
    "xa": "Xã/Phường",
    "dang_bo_co_so": "Đảng bộ cơ sở",
    "chi_bo": "Chi bộ",
}
CSV_COLUMNS = ("code", "name", "level", "parent_code", "members")
MAX_CODE = 64  # the column; codes are held to MAX_CODE_BYTES by valid_code()
# Button payloads carry unit codes (Telegram allows 64 bytes of callback data): the longest,
# "qc:<campaign>:<code>", still fits with a code of this many UTF-8 bytes.
MAX_CODE_BYTES = 48
_CODE_RE = re.compile(r"[\w.-]+")
MAX_NAME = 255
MAX_MEMBERS = 1_000_000  # members of one unit: more is a typo (and overflows the column)


class OrgImportError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    code: str
    name: str
    level: str
    parent_code: str
    members: int


def valid_code(code: str) -> bool:
    """The one rule for unit codes, at import and in button payloads: letters (Vietnamese
    too), digits and - _ . only, at most MAX_CODE_BYTES bytes."""
    return len(code.encode("utf-8")) <= MAX_CODE_BYTES and bool(_CODE_RE.fullmatch(code))


def level_label(level: str) -> str:
    return LEVELS.get(level, level)


def parse_csv(text: str) -> list[_Row]:
    """Validate every row; raise OrgImportError listing each bad line (nothing is imported)."""
    problems: list[str] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise OrgImportError([f"Dòng 1: thiếu cột {', '.join(missing)} "
                              f"(cần: {','.join(CSV_COLUMNS)})"])
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        raw = {k.strip(): csv_unescape((v or "").replace("\x00", "").strip())
               for k, v in raw.items() if k}
        code, name, level = raw["code"], raw["name"], raw["level"]
        parent, members_text = raw["parent_code"], raw["members"] or "0"
        if not any(raw.values()):
            continue
        if not valid_code(code):
            problems.append(f"Dòng {line}: mã đơn vị trống, quá dài (tối đa {MAX_CODE_BYTES} "
                            "chữ không dấu) hoặc có ký tự khác chữ, số và - _ .")
        elif code in seen:
            problems.append(f"Dòng {line}: mã {code} trùng với dòng {seen[code]}")
        else:
            seen[code] = line
        if not name or len(name) > MAX_NAME:
            problems.append(f"Dòng {line}: tên đơn vị trống hoặc dài quá {MAX_NAME} ký tự")
        if level not in LEVELS:
            problems.append(f"Dòng {line}: cấp '{level}' không hợp lệ "
                            f"(dùng: {', '.join(LEVELS)})")
        try:
            members = int(members_text)
            if not 0 <= members <= MAX_MEMBERS:
                raise ValueError
        except ValueError:
            problems.append(f"Dòng {line}: số đảng viên '{members_text[:20]}' phải là số từ 0 "
                            f"đến {MAX_MEMBERS:,}".replace(",", "."))
            members = 0
        if parent and parent == code:
            problems.append(f"Dòng {line}: đơn vị không thể là cấp trên của chính nó")
        rows.append(_Row(line, code, name, level, parent, members))
    if problems:
        raise OrgImportError(problems)
    return rows


async def import_units(session: AsyncSession, rows: list[_Row]) -> ImportReport:
    """Create or update units in one transaction; idempotent. Parents may come in any order."""
    existing = {u.code: u for u in (await session.scalars(select(OrgUnit))).all()}
    by_code = {r.code: r for r in rows}
    problems: list[str] = []
    for r in rows:
        if r.parent_code and r.parent_code not in by_code and r.parent_code not in existing:
            problems.append(f"Dòng {r.line}: không tìm thấy đơn vị cấp trên {r.parent_code}")
    # cycle check over the merged parent map
    parent_of = {code: (u.parent_id, None) for code, u in existing.items()}
    id_to_code = {u.id: code for code, u in existing.items()}
    parents = {code: id_to_code.get(pid) for code, (pid, _) in parent_of.items()}
    parents.update({r.code: r.parent_code or None for r in rows})
    for r in rows:
        seen: set[str] = set()
        node: str | None = r.code
        while node is not None:
            if node in seen:
                problems.append(f"Dòng {r.line}: vòng lặp cấp trên quanh mã {r.code}")
                break
            seen.add(node)
            node = parents.get(node)
    if problems:
        raise OrgImportError(sorted(set(problems), key=lambda p: int(p.split(":")[0][5:])))

    report = ImportReport()
    now = utcnow()
    units = dict(existing)
    for r in rows:
        unit = units.get(r.code)
        if unit is None:
            unit = OrgUnit(code=r.code, name=r.name, level=r.level, members=r.members,
                           path="", depth=0, created_at=now, updated_at=now)
            session.add(unit)
            units[r.code] = unit
            report.created += 1
        elif (unit.name, unit.level, unit.members) != (r.name, r.level, r.members) or (
            (id_to_code.get(unit.parent_id) or "") != r.parent_code
        ):
            unit.name, unit.level, unit.members, unit.updated_at = r.name, r.level, r.members, now
            report.updated += 1
        else:
            report.unchanged += 1
    await session.flush()  # ids for new units
    for code, parent_code in parents.items():
        units[code].parent_id = units[parent_code].id if parent_code else None
    _rebuild_paths(units.values())
    await session.flush()
    return report


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


async def export_csv(session: AsyncSession) -> str:
    units = sorted((await session.scalars(select(OrgUnit))).all(), key=_tree_order)
    code_of = {u.id: u.code for u in units}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for u in units:
        # a name like "=HYPERLINK(…)" is neutralised for spreadsheets; import takes it back
        writer.writerow(csv_row([u.code, u.name, u.level, code_of.get(u.parent_id, ""),
                                 u.members]))
    return out.getvalue()


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
    lines = [
        f"{'  ' * (u.depth - base)}{u.code} · {u.name} ({level_label(u.level)}, "
        f"{u.members} đảng viên)"
        for u in units
    ]
    return "\n".join(lines)


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
