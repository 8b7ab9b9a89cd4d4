"""SQLAlchemy 2 models. Times are stored in UTC (timezone-aware)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person as seen on one channel (Telegram and Zalo identities are separate rows)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    # set when this identity was linked (by a one-time code, confirmed by the role holder) to
    # the same person on another channel; unique: an account is linked with at most one other
    linked_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chat(Base):
    """A private chat or a group on one channel."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # private | group
    title: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    org_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_units.id", ondelete="SET NULL"), index=True
    )
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuestionLog(Base):
    """Every free-text question, with what the bot did with it (for content authors)."""

    __tablename__ = "question_log"
    __table_args__ = (Index(None, "created_at"), Index(None, "outcome"),
                      Index(None, "group_id", "created_at"), Index(None, "user_id", "id"),
                      # covers the /cauhoi figures: a range of days, nothing else read
                      Index(None, "created_at", "outcome", "unit_id", "group_id", "entry_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(24))
    entry_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    kb_version: Mapped[str | None] = mapped_column(String(32))
    # where the asker sits in the org tree when asking (the group's unit, the asker's roles, or
    # the unit of an earlier question); reports filter on it, never on who asked
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    # unanswered and suggested questions: the group of questions that mean the same thing
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_groups.id", ondelete="SET NULL"))


class QuestionGroup(Base):
    """Questions that mean the same thing: one row per grouping key (the matcher's normalised,
    typo-snapped syllables, order-free), found at logging time so reports never compare pairs.

    status: open | assigned (learned as phrasings of `entry_id`) | out_of_scope | draft"""

    __tablename__ = "question_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    sample: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    entry_id: Mapped[str | None] = mapped_column(String(64))
    examples: Mapped[str] = mapped_column(Text, default="")  # JSON list, kept at decision time
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuestionGroupKey(Base):
    """A group's key with one (non-number) syllable left out: a later question whose key is
    exactly that joins the group (a near-duplicate, found by one indexed lookup)."""

    __tablename__ = "question_group_keys"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("question_groups.id", ondelete="CASCADE"),
                                          index=True)


class LearnedPhrasing(Base):
    """A member's wording taught to the matcher as a phrasing of an entry by a báo cáo viên:
    who, when, from which group; revoked rather than deleted; `merged_at` once exported into
    the content files and committed."""

    __tablename__ = "learned_phrasings"
    __table_args__ = (Index(None, "entry_id"), Index(None, "revoked_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_groups.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KbStamp(Base):
    """One row per name; "learned" is bumped whenever learned phrasings or out-of-scope marks
    change, so every process rebuilds its matcher before the next question."""

    __tablename__ = "kb_stamps"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OrgUnit(Base):
    """A unit of the Party organisation tree (tỉnh, xã/phường, đảng bộ cơ sở, chi bộ, …).

    `path` is a materialised path of ids ("/1/7/42/"), so a subtree is one indexed prefix query.
    """

    __tablename__ = "org_units"
    __table_args__ = (
        Index(None, "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(32))  # kind: tinh, xa, chi_bo… (LEVELS)
    level_label: Mapped[str | None] = mapped_column(String(64))  # as the file wrote it
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoleAssignment(Base):
    """A role held by a user over an org subtree (org_unit_id NULL = the whole tree, admins)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "org_unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | reporter | secretary | member
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # invite | cli | bootstrap
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invite(Base):
    """A one-time (or N-time) code that binds a role over an org unit to whoever redeems it."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InviteUse(Base):
    __tablename__ = "invite_uses"
    __table_args__ = (UniqueConstraint("invite_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditLog(Base):
    """Who changed what, when: roles, invites, group links."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text, default="")


class DialogState(Base):
    """Per (channel, chat, user, kind) conversation state kept in the database, not in memory:
    the numbered options last shown on a channel without buttons (Zalo), a broadcast being
    composed, … each with an expiry."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set aside: the user went elsewhere (a command, a menu); kept, but typed text is not
    # taken as an answer until the dialog is resumed (its buttons, "Soạn tiếp")
    parked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxUpdate(Base):
    """An incoming update, committed before the platform is told it arrived (HTTP 200 on a
    webhook, the next poll's offset). Handled from here and marked done; the unique
    (channel, update_key) is also the deduplication of re-deliveries. A Zalo message without an
    id gets a key of its own (never deduplicated)."""

    __tablename__ = "inbox_updates"
    __table_args__ = (UniqueConstraint("channel", "update_key"),
                      Index(None, "channel", "state", "id"), Index(None, "received_at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)  # the raw update as JSON; emptied once done
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # "host:pid:uuid"
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(255))


class LinkCode(Base):
    """A one-time code that links a user's identities on two channels (valid for minutes).

    `user_id` made the code (the owner), `claimed_by` sent it from the other channel. The link
    takes effect once every account that must confirm (those holding roles) has agreed."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # claimed at
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # open | pending (claimed, waiting for confirmation) | linked | declined | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    owner_ok: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    claimer_ok: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Broadcast(Base):
    """Content pushed to the chats of org subtrees, once or on a recurring schedule.

    The row is the source of truth: APScheduler only wakes the process at `next_fire_at`."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index(None, "status", "next_fire_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # active | paused | cancelled | finished
    content_kind: Mapped[str] = mapped_column(String(16))  # text | entry | series
    text: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[str | None] = mapped_column(String(64))
    series: Mapped[str | None] = mapped_column(String(80))  # "DOC:topic"
    series_pos: Mapped[int] = mapped_column(Integer, default=0)
    # an announcement of a campaign carries the "đã quán triệt" action
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL", use_alter=True)
    )
    targets: Mapped[str] = mapped_column(Text)  # JSON list of org unit codes
    level: Mapped[str | None] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))  # groups | secretary | reporter | member
    channel: Mapped[str] = mapped_column(String(16))  # telegram | zalo | all
    schedule_kind: Mapped[str] = mapped_column(String(8))  # now | once | cron
    cron: Mapped[str] = mapped_column(String(120), default="")
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BroadcastRun(Base):
    """One firing of a broadcast (unique per broadcast and fire time)."""

    __tablename__ = "broadcast_runs"
    __table_args__ = (UniqueConstraint("broadcast_id", "fire_at"), Index(None, "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    fire_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # running | done | missed
    text: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[str | None] = mapped_column(String(64))
    buttons: Mapped[str] = mapped_column(Text, default="", server_default="")  # JSON or ""
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One message of one run to one chat: the durable outbox the dispatcher drains."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "chat_id"),
        Index(None, "channel", "status", "id"),
        Index(None, "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("broadcast_runs.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # pending | sending | sent | failed | skipped | uncertain
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Campaign(Base):
    """An "đợt quán triệt": every chi bộ under `scope_unit_id` studies `document` by `deadline`.
    Dates are local calendar dates (Asia/Ho_Chi_Minh)."""

    __tablename__ = "campaigns"
    __table_args__ = (Index(None, "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"))
    opens_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Confirmation(Base):
    """A chi bộ's "đã quán triệt" for a campaign: one per campaign and cell (updated in place,
    every change in the audit log)."""

    __tablename__ = "confirmations"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"),
                                         index=True)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)  # by a unit above / admin
    channel: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    attended: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MemberStudy(Base):
    """A registered member's own "tôi đã học" for a campaign (counted beside the cell's figure)."""

    __tablename__ = "member_studies"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id"), Index(None, "unit_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReminderLog(Base):
    """A reminder sent about one cell on one local day (at most one per cell per day)."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id", "sent_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    sent_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # cell | summary
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DispatcherLease(Base):
    """Who sends a channel's broadcasts right now: one process per channel, so the platform's
    rate limit holds for the whole bot and in-flight rows are only ever recovered by their
    owner's successor. Renewed while alive; taken over once expired."""

    __tablename__ = "dispatcher_leases"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
