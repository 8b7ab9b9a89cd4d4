"""Rough edges a new operator meets (issue 14): a secretary of two chi bộ chooses which report;
a commune secretary's typed confirmation offers the chi bộ below; one denominator named in the
reports; the chart shows attendance for chi bộ."""

from __future__ import annotations

from bot.reports.chart import bar
from bot.reports.text import headline
from bot.services.rollups import Tally
from handlers import payloads, texts
from tests.test_confirm_flow import _press, _record, _say, world  # noqa: F401 - the fixture


async def test_secretary_of_two_cells_chooses_the_report(app, world):  # noqa: F811
    reply = await _say(app, "103", "/baocao")  # secretary of X01-CB03 and X01-CB04
    assert reply.text.startswith("«Quán triệt Nghị quyết 57»: đồng chí phụ trách nhiều đơn vị")
    targets = [b.payload for b in reply.flat_buttons()]
    assert targets == [payloads.report(world.campaign_id, "X01-CB03"),
                       payloads.report(world.campaign_id, "X01-CB04")]
    reply = await _press(app, "103", targets[1])
    assert "Chi bộ thôn 4" in reply.text
    back = [b.payload for b in reply.flat_buttons() if b.label == texts.RP_BACK_BUTTON]
    assert back == [payloads.report(world.campaign_id)]
    reply = await _press(app, "103", payloads.report(world.campaign_id, "X02-CB01"))
    assert reply.text == texts.RP_OUTSIDE  # still checked on every press


async def test_commune_secretary_typed_confirmation_offers_the_cells_below(app, world):  # noqa: F811
    await _record(app, world.campaign_id, "X01-CB01", 25, 25)
    reply = await _say(app, "110", "đã quán triệt 40/46")
    offered = [b.payload for b in reply.flat_buttons()]
    assert payloads.confirm_choice(world.campaign_id, "X01-CB02") in offered
    assert payloads.confirm_choice(world.campaign_id, "X01-CB07") in offered
    reply = await _press(app, "110", payloads.confirm_choice(world.campaign_id, "X01-CB02"))
    assert "Chi bộ thôn 2" in reply.text


def test_report_headline_names_both_denominators():
    same = Tally("X01", "Xã", "xa", cells=7, confirmed=0, members=228, denominator=228)
    assert headline(same) == "0/7 chi bộ (0%); 0/228 đảng viên (0%)"
    declared = Tally("X01", "Xã", "xa", cells=7, confirmed=3, members=228, attended=75,
                     denominator=226)
    assert headline(declared).endswith("— tổng theo số chi bộ khai; danh sách ghi 228")


def test_chart_bars_show_attendance_for_cells():
    cell = Tally("CB1", "Chi bộ 1", "chi_bo", cells=1, confirmed=1, attended=23,
                 denominator=25)
    assert bar(cell) == (23 / 25, "23/25 đảng viên (92%)")
    waiting = Tally("CB2", "Chi bộ 2", "chi_bo", cells=1, confirmed=0, denominator=30)
    assert bar(waiting) == (0.0, "chưa xác nhận")
    commune = Tally("X1", "Xã", "xa", cells=4, confirmed=2, attended=40, denominator=80)
    assert bar(commune) == (0.5, "2/4 chi bộ · 50% đảng viên")


# -- texts a user reads ----------------------------------------------------------------------------
def test_one_option_and_numbered_wording():
    from handlers.render import numbered

    one = numbered("Bấm nút dưới đây để thông báo.", ["Gửi"], texts.OPTIONS_HINT)
    assert "từ 1 đến 1" not in one and one.endswith("(Gõ số 1 để chọn, hoặc gõ câu hỏi.)")
    assert one.startswith("Gõ số 1 dưới đây")
    greeting = numbered(texts.GREETING.format(name="đồng chí"), ["A", "B"], texts.OPTIONS_HINT)
    assert "bấm một nút" not in greeting and "gõ số của một mục dưới đây" in greeting
    group = numbered("Tin", ["✅ Chi bộ đã quán triệt"], texts.OPTIONS_HINT_GROUP)
    assert "1 đến 1" not in group and "kèm số 1 để chọn" in group


def test_too_long_message_reads_as_one_sentence():
    from scheduler.broadcasts import _thousands

    message = (f"Nội dung dài {_thousands(5000)} ký tự, quá giới hạn {_thousands(4000)} ký tự")
    assert message == "Nội dung dài 5.000 ký tự, quá giới hạn 4.000 ký tự"


def test_cron_errors_are_vietnamese():
    import pytest

    from scheduler.timespec import ScheduleError, cron_trigger

    for expression, reason in (("0 7", "cần đủ 5 phần"), ("61 7 * * *", "61 lớn hơn mức tối đa 59"),
                               ("0 7 * * mon-xyz", "không có thứ «xyz»")):
        with pytest.raises(ScheduleError) as err:
            cron_trigger(expression, app_tz())
        assert reason in str(err.value)
        assert "Wrong" not in str(err.value) and "value" not in str(err.value)


def app_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


def test_zalo_strips_a_multi_word_bot_name():
    from bot.channels.zalo import ZaloChannel

    channel = ZaloChannel.__new__(ZaloChannel)
    channel.bot_name = "Bot Nghị Quyết"
    assert channel._strip_mention("@Bot Nghị Quyết 2") == "2"
    assert channel._strip_mention("@bot nghị quyết  nq57 là gì?") == "nq57 là gì?"
    channel.bot_name = "Bot NQ 🤖"  # a name ending in a sign, not a letter
    assert channel._strip_mention("@Bot NQ 🤖 1") == "1"


def test_env_file_of_the_current_directory_wins_over_the_project(tmp_path, monkeypatch):
    from bot.config import PROJECT_ROOT, Settings

    assert Settings.model_config["env_file"] == (PROJECT_ROOT / ".env", ".env")
    monkeypatch.delenv("BROWSE_PAGE_SIZE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BROWSE_PAGE_SIZE=9\n", encoding="utf-8")
    assert Settings().browse_page_size == 9


# -- the command line ----------------------------------------------------------------------------
def test_argparse_speaks_vietnamese_with_the_usage_exit_code(tmp_path):
    from tests.test_demo import nqbot

    bad = nqbot("invite", "create", "--role", "member", "--org", "X01", "--uses", "abc",
                tmp_path=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Cách dùng: nqbot invite create")
    assert "LỖI: --uses: 'abc' không phải số nguyên" in bad.stderr
    missing = nqbot("broadcast", tmp_path=tmp_path)
    assert missing.returncode == 2 and "thiếu tham số bắt buộc" in missing.stderr
    helped = nqbot("org", "--help", tmp_path=tmp_path)
    assert helped.stdout.startswith("Cách dùng: nqbot org") and "tùy chọn:" in helped.stdout
    for text in (bad.stderr, missing.stderr, helped.stdout):
        assert "usage" not in text and "invalid" not in text and "required" not in text


def test_ask_file_gives_one_line_per_line_and_plain_ask_no_hint(tmp_path):
    import json

    from tests.test_demo import nqbot

    (tmp_path / "q.txt").write_text("nq57 ban hanh ngay nao\n\nxin chao\n   \n",
                                    encoding="utf-8")
    proc = nqbot("ask", "--json", "--file", "q.txt", tmp_path=tmp_path)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["status"] for r in rows][::2] == ["answered", rows[2]["status"]]
    assert len(rows) == 4 and rows[1]["status"] == rows[3]["status"] == "empty"
    assert rows[2]["status"] != "empty"
    plain = nqbot("ask", "xin chao", tmp_path=tmp_path)
    assert plain.returncode == 0 and "Gõ số" not in plain.stdout
    assert "1. " in plain.stdout and texts.MENU_BUTTON not in plain.stdout


def test_calibrate_writes_the_same_model_whatever_the_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"model-{seed}.yaml"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONIOENCODING": "utf-8"}
        proc = subprocess.run([sys.executable, "-m", "bot", "content", "calibrate", "-o",
                               str(out)], capture_output=True, text=True, encoding="utf-8",
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
