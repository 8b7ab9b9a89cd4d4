"""Schedules typed by reporters: local times, weekly days, cron; every mistake explained."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.timespec import (
    ScheduleError,
    daily,
    next_fire,
    parse_local_datetime,
    parse_schedule,
    weekly,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 16:00 in Hà Nội


def test_local_time_is_stored_in_utc():
    assert parse_local_datetime("25/12/2026 07:30", TZ, NOW) == datetime(2026, 12, 25, 0, 30,
                                                                         tzinfo=UTC)


@pytest.mark.parametrize(("text", "message"), [
    ("31/02/2027 08:00", "không có thật"),
    ("22/11/2026 15:59", "đã qua"),
    ("2026-12-25 07:30", "không đúng dạng"),
    ("25/12/2026 25:00", "không có thật"),
])
def test_bad_dates_are_explained(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_local_datetime(text, TZ, NOW)


def test_daily_and_weekly_become_cron_in_local_time():
    assert daily("07:05") == "5 7 * * *"
    assert weekly("thứ 2, thứ 5, CN", "19:30") == "30 19 * * mon,thu,sun"
    assert weekly("2,4,6", "06:00") == "0 6 * * mon,wed,fri"
    with pytest.raises(ScheduleError, match="ngày trong tuần"):
        weekly("thứ 9", "06:00")
    with pytest.raises(ScheduleError, match="Giờ"):
        daily("24:00")


def test_next_fire_uses_local_time_and_standard_weekday_numbers():
    # 22/11/2026 is a Sunday; Monday 23/11/2026 07:00 in Hà Nội is 00:00 UTC
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert next_fire("0 7 * * mon", TZ, NOW) == monday
    assert next_fire("0 7 * * 1", TZ, NOW) == monday  # cron's 1 is Monday (APScheduler's is not)
    assert next_fire("0 7 * * 0", TZ, NOW) == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    assert next_fire("0 7 * * 1-5", TZ, NOW) == monday


def test_schedules_that_never_fire_or_conflict_are_refused():
    with pytest.raises(ScheduleError, match="không bao giờ đến"):
        parse_schedule(at=None, cron="0 8 31 2 *", tz=TZ, now=NOW)
    with pytest.raises(ScheduleError, match="không hợp lệ"):
        parse_schedule(at=None, cron="mỗi sáng", tz=TZ, now=NOW)
    with pytest.raises(ScheduleError, match="Chỉ chọn một"):
        parse_schedule(at="25/12/2026 07:30", cron="0 7 * * *", tz=TZ, now=NOW)
    assert parse_schedule(at=None, cron=None, tz=TZ, now=NOW).describe(TZ) == "gửi ngay"
    once = parse_schedule(at="25/12/2026 07:30", cron=None, tz=TZ, now=NOW)
    assert once.describe(TZ) == "lúc 25/12/2026 07:30"
