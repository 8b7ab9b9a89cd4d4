"""When a broadcast fires: "now", a local date-time, daily, weekly on given weekdays, or cron.

Users type times in Asia/Ho_Chi_Minh (dd/mm/yyyy HH:MM); everything is stored in UTC. Every
bad input raises `ScheduleError` with a specific Vietnamese explanation, and nothing is
scheduled. APScheduler's triggers compute the fire times (the database keeps the state).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_DATETIME_RE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})\s*$")
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
# Vietnamese weekday names: "thứ 2" … "thứ 7", "chủ nhật" (cron: mon=1 … sun=0)
_WEEKDAYS = {"2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat",
             "cn": "sun", "chunhat": "sun"}


class ScheduleError(ValueError):
    """A schedule the user typed cannot be used; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class Schedule:
    kind: str  # now | once | cron
    at: datetime | None = None  # UTC, for "once"
    cron: str = ""  # 5-field crontab in local time, for "cron"

    def describe(self, tz: ZoneInfo) -> str:
        if self.kind == "now":
            return "gửi ngay"
        if self.kind == "once" and self.at is not None:
            return "lúc " + self.at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
        return f"lặp lại theo lịch «{self.cron}»"


def parse_local_datetime(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """"dd/mm/yyyy HH:MM" in local time → aware UTC datetime, in the future."""
    match = _DATETIME_RE.match(text)
    if not match:
        raise ScheduleError(f"Thời gian «{text}» không đúng dạng ngày/tháng/năm giờ:phút, "
                            "ví dụ 25/12/2026 07:30.")
    day, month, year, hour, minute = (int(g) for g in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        raise ScheduleError(f"Ngày giờ «{text}» không có thật (ví dụ 31/02 hay 25:00).") from None
    at = local.astimezone(UTC)
    if at <= now:
        raise ScheduleError(f"Thời điểm {text} đã qua; hãy chọn một thời điểm trong tương lai.")
    return at


def daily(time_text: str) -> str:
    hour, minute = _parse_time(time_text)
    return f"{minute} {hour} * * *"


def weekly(days_text: str, time_text: str) -> str:
    """"2,4,6" or "thứ 2, thứ 5, cn" + "07:00" → cron on those weekdays."""
    hour, minute = _parse_time(time_text)
    days: list[str] = []
    for part in re.split(r"[,\s;]+", days_text.lower().replace("thứ", " ").replace("thu", " ")):
        part = part.strip().replace("chủ", "chu").replace("nhật", "nhat")
        if not part:
            continue
        day = _WEEKDAYS.get(part)
        if day is None:
            raise ScheduleError(f"Không hiểu ngày trong tuần «{part}»; dùng 2–7 hoặc CN.")
        if day not in days:
            days.append(day)
    if not days:
        raise ScheduleError("Hãy chọn ít nhất một ngày trong tuần, ví dụ: 2,5.")
    return f"{minute} {hour} * * {','.join(days)}"


def _parse_time(text: str) -> tuple[int, int]:
    match = _TIME_RE.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(f"Giờ «{text}» không hợp lệ; dùng dạng giờ:phút, ví dụ 07:30.")
    return int(match.group(1)), int(match.group(2))


_CRON_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def standard_cron(expression: str) -> str:
    """Give numeric weekdays their standard cron meaning (0 or 7 = Sunday, 1 = Monday).

    APScheduler 3 numbers weekdays from Monday = 0, so "0 7 * * 1" would fire on Tuesdays;
    numbers are rewritten to names, which mean the same in both."""
    fields = expression.split()
    if len(fields) != 5:
        return expression.strip()

    def name(match: re.Match[str]) -> str:
        number = int(match.group(0))
        if number > 7:
            raise ScheduleError(f"Ngày trong tuần «{number}» không hợp lệ (0–7).")
        return _CRON_DAY_NAMES[number]

    fields[4] = re.sub(r"\d+", name, fields[4])
    return " ".join(fields)


_CRON_FIELDS = "phút (0–59), giờ (0–23), ngày (1–31), tháng (1–12), thứ (0–7; 0 và 7 là Chủ nhật)"
_CRON_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (  # APScheduler's English → Vietnamese
    (re.compile(r"Wrong number of fields; got (\d+), expected 5"),
     "cần đủ 5 phần cách nhau bằng dấu cách, ở đây có {0} phần"),
    (re.compile(r"Error validating expression '(.*?)': the last value \((\d+)\) is higher "
                r"than the maximum value \((\d+)\)"), "phần «{0}»: {1} lớn hơn mức tối đa {2}"),
    (re.compile(r"Error validating expression '(.*?)': the first value \((\d+)\) is lower "
                r"than the minimum value \((\d+)\)"), "phần «{0}»: {1} nhỏ hơn mức tối thiểu {2}"),
    (re.compile(r'Invalid weekday name "(.*?)"'), "không có thứ «{0}»"),
    (re.compile(r'Invalid month name "(.*?)"'), "không có tháng «{0}»"),
    (re.compile(r"Increment must be higher than 0"), "bước lặp (sau dấu /) phải lớn hơn 0"),
)


def cron_trigger(expression: str, tz: ZoneInfo) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(standard_cron(expression), timezone=tz)
    except ValueError as exc:
        reason = "không đọc được"
        for pattern, template in _CRON_ERRORS:
            match = pattern.search(str(exc))
            if match:
                reason = template.format(*match.groups())
                break
        raise ScheduleError(f"Biểu thức lịch «{expression}» không hợp lệ: {reason}. Năm phần "
                            f"lần lượt là {_CRON_FIELDS}; ví dụ «0 7 * * 1-5» là 7 giờ sáng "
                            "thứ Hai đến thứ Sáu.") from None


def next_fire(expression: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    fire = cron_trigger(expression, tz).get_next_fire_time(None, after)
    return fire.astimezone(UTC) if fire else None


def parse_schedule(*, at: str | None, cron: str | None, tz: ZoneInfo,
                   now: datetime) -> Schedule:
    if at and cron:
        raise ScheduleError("Chỉ chọn một: gửi một lần (--at) hoặc lặp lại (--cron).")
    if at:
        return Schedule("once", at=parse_local_datetime(at, tz, now))
    if cron:
        if next_fire(cron, tz, now) is None:
            raise ScheduleError(f"Lịch «{cron}» không bao giờ đến (ví dụ ngày 31/02).")
        return Schedule("cron", cron=standard_cron(cron))
    return Schedule("now")
