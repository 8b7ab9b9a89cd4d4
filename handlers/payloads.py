"""Button payloads: short, versionless strings, always validated on the server.

Formats (each at most 64 bytes, Telegram's callback_data limit; <unit_code> is any code the org
import accepts, bot.services.orgs.valid_code, which keeps every format below 64 bytes):
  m                 main menu            h            help
  d:<DOC>           topics of a document
  t:<DOC>:<topic>:<page>   questions of a topic, paged
  e:<entry_id>      an answer card       em:<entry_id>   the rest of a long answer ("Xem thêm")
  l:<unit_code>     link this group to an org unit (permission checked on press)
  b:new             compose a new broadcast
  b:<op>:<id>       open | pause | resume | cancel broadcast <id> (permission checked on press)
  bc:<choice>       an answer in the broadcast composer: a fixed choice (COMPOSE_CHOICES),
                    u:<unit_code>, sd:<DOC> or st:<DOC>:<topic>
  q:<campaign>      "Chi bộ đã quán triệt": start a confirmation (permission checked on press)
  qc:<campaign>:<unit_code>   confirm this campaign for this cell (a choice)
  qd:<days ago>     the session was held today (0) or yesterday (1)
  qa:all            everyone attended        qx:ok | qx:no   confirm or cancel the summary
  r:<campaign>[:<unit_code>]  the campaign report, optionally drilled down to a unit
  rc:<campaign>:<unit_code>   its chart      rx:<campaign>:<unit_code>   its Excel export
  lk:ok:<request> | lk:no:<request>   agree to / refuse an identity link (checked on press)
  rv:<grant>        /thuhoi: a role grant picked for revocation    rv:ok:<grant>  revoke it
                    (the actor's scope re-checked on each press)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.services.orgs import valid_code  # one rule for unit codes: the import's

MAX_PAYLOAD_BYTES = 64
_DOC_RE = re.compile(r"^[A-Z0-9]{2,16}$")
_ID_RE = re.compile(r"^[a-z0-9-]{1,48}$")
_NUMBER_RE = re.compile(r"^[0-9]{1,9}$")
BROADCAST_OPS = ("open", "pause", "resume", "cancel", "announce")  # announce: <campaign>
COMPOSE_CHOICES = frozenset({
    "entry", "series", "back", "quit", "ok",
    "a:all", "a:chibo", "a:sec", "c:telegram", "c:zalo", "c:all",
    "t:now", "t:daily", "t:weekly",
})


@dataclass(frozen=True)
class Action:
    # menu | help | document | topic | entry | link | broadcast | compose | confirm | report
    # | identity | revoke
    kind: str
    document: str = ""
    topic: str = ""
    page: int = 1
    entry_id: str = ""
    unit_code: str = ""
    op: str = ""  # broadcast: new | open | pause | resume | cancel; compose: the choice
    number: int = 0  # broadcast id; confirm/report: the campaign id (qd: days ago)


def menu() -> str:
    return "m"


def help_() -> str:
    return "h"


def document(doc: str) -> str:
    return f"d:{doc}"


def topic(doc: str, topic_id: str, page: int = 1) -> str:
    return f"t:{doc}:{topic_id}:{page}"


def entry(entry_id: str) -> str:
    return f"e:{entry_id}"


def more(entry_id: str) -> str:
    return f"em:{entry_id}"


def link(unit_code: str) -> str:
    return f"l:{unit_code}"


def broadcast(op: str, number: int = 0) -> str:
    return "b:new" if op == "new" else f"b:{op}:{number}"


def compose(choice: str) -> str:
    return f"bc:{choice}"


def confirm_campaign(campaign_id: int) -> str:
    return f"q:{campaign_id}"


def confirm_choice(campaign_id: int, unit_code: str) -> str:
    return f"qc:{campaign_id}:{unit_code}"


def confirm_date(days_ago: int) -> str:
    return f"qd:{days_ago}"


def confirm_all() -> str:
    return "qa:all"


def confirm_answer(ok: bool) -> str:
    return "qx:ok" if ok else "qx:no"


def report(campaign_id: int, unit_code: str = "", op: str = "show") -> str:
    """r: the report (drilled down to unit_code), rc: its chart, rx: its Excel export."""
    prefix = {"show": "r", "chart": "rc", "xlsx": "rx"}[op]
    return f"{prefix}:{campaign_id}:{unit_code}" if unit_code else f"{prefix}:{campaign_id}"


def identity_answer(request_id: int, agree: bool) -> str:
    return f"lk:{'ok' if agree else 'no'}:{request_id}"


def revoke(grant_id: int, confirm: bool = False) -> str:
    return f"rv:ok:{grant_id}" if confirm else f"rv:{grant_id}"


def fits(payload: str) -> bool:
    return len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES


def parse(payload: str) -> Action | None:
    """Parse a payload; None for anything malformed (the caller refuses politely)."""
    if not payload or len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        return None
    if payload == "m":
        return Action("menu")
    if payload == "h":
        return Action("help")
    kind, _, rest = payload.partition(":")
    if kind == "d" and _DOC_RE.match(rest):
        return Action("document", document=rest)
    if kind == "e" and _ID_RE.match(rest):
        return Action("entry", entry_id=rest)
    if kind == "em" and _ID_RE.match(rest):
        return Action("more", entry_id=rest)
    if kind == "l" and valid_code(rest):
        return Action("link", unit_code=rest)
    if kind == "b":
        return _parse_broadcast(rest)
    if kind == "bc":
        return _parse_compose(rest)
    if kind in ("q", "qc", "qd", "qa", "qx"):
        return _parse_confirm(kind, rest)
    if kind in ("r", "rc", "rx"):
        return _parse_report(kind, rest)
    if kind == "lk":
        op, _, number = rest.partition(":")
        if op in ("ok", "no") and _NUMBER_RE.fullmatch(number):
            return Action("identity", op=op, number=int(number))
    if kind == "rv":
        op, _, number = rest.rpartition(":")
        if op in ("", "ok") and _NUMBER_RE.fullmatch(number):
            return Action("revoke", op=op or "pick", number=int(number))
    if kind == "t":
        parts = rest.split(":")
        if (
            len(parts) == 3
            and _DOC_RE.match(parts[0])
            and _ID_RE.match(parts[1])
            and parts[2].isdigit()
            and 0 < len(parts[2]) <= 3
        ):
            return Action("topic", document=parts[0], topic=parts[1], page=int(parts[2]))
    return None


def _parse_broadcast(rest: str) -> Action | None:
    if rest == "new":
        return Action("broadcast", op="new")
    op, _, number = rest.partition(":")
    if op in BROADCAST_OPS and _NUMBER_RE.fullmatch(number):
        return Action("broadcast", op=op, number=int(number))
    return None


def _parse_compose(rest: str) -> Action | None:
    if rest in COMPOSE_CHOICES:
        return Action("compose", op=rest)
    choice, _, argument = rest.partition(":")
    if choice == "u" and valid_code(argument):
        return Action("compose", op="u", unit_code=argument)
    if choice == "sd" and _DOC_RE.fullmatch(argument):
        return Action("compose", op="sd", document=argument)
    if choice == "st":
        doc, _, topic_id = argument.partition(":")
        if _DOC_RE.fullmatch(doc) and _ID_RE.fullmatch(topic_id):
            return Action("compose", op="st", document=doc, topic=topic_id)
    return None


def _parse_confirm(kind: str, rest: str) -> Action | None:
    if kind == "q" and _NUMBER_RE.fullmatch(rest):
        return Action("confirm", op="start", number=int(rest))
    if kind == "qc":
        number, _, code = rest.partition(":")
        if _NUMBER_RE.fullmatch(number) and valid_code(code):
            return Action("confirm", op="choose", number=int(number), unit_code=code)
    if kind == "qd" and rest in ("0", "1"):
        return Action("confirm", op="date", number=int(rest))
    if kind == "qa" and rest == "all":
        return Action("confirm", op="all")
    if kind == "qx" and rest in ("ok", "no"):
        return Action("confirm", op=rest)
    return None


def _parse_report(kind: str, rest: str) -> Action | None:
    number, _, code = rest.partition(":")
    if not _NUMBER_RE.fullmatch(number) or (code and not valid_code(code)):
        return None
    if kind != "r" and not code:
        return None
    op = {"r": "show", "rc": "chart", "rx": "xlsx"}[kind]
    return Action("report", op=op, number=int(number), unit_code=code)
