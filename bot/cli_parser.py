"""An argparse parser that speaks Vietnamese: "Cách dùng:", section titles, the help option and
every error argparse itself writes ("invalid int value", "the following arguments are
required"…). Subcommand parsers inherit it."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from bot.cli_common import EXIT_USAGE

_TYPES = {"int": "số nguyên", "float": "số"}
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^the following arguments are required: (.*)$"), "thiếu tham số bắt buộc: {0}"),
    (re.compile(r"^unrecognized arguments: (.*)$"), "không hiểu tham số: {0}"),
    (re.compile(r"^argument (.*?): invalid choice: (.*?) \(choose from (.*)\)$"),
     "{0}: không có lựa chọn {1} (chọn một trong: {2})"),
    (re.compile(r"^invalid choice: (.*?) \(choose from (.*)\)$"),
     "không có lệnh {0} (chọn một trong: {1})"),
    (re.compile(r"^argument (.*?): invalid (\w+) value: (.*)$"),
     "{0}: {2} không phải {1}"),
    (re.compile(r"^argument (.*?): expected one argument$"), "{0} cần một giá trị đi kèm"),
    (re.compile(r"^argument (.*?): expected at least one argument$"),
     "{0} cần ít nhất một giá trị"),
    (re.compile(r"^argument (.*?): expected at most one argument$"), "{0} chỉ nhận một giá trị"),
    (re.compile(r"^argument (.*?): not allowed with argument (.*)$"),
     "không dùng {0} cùng với {1}"),
    (re.compile(r"^ambiguous option: (.*?) could match (.*)$"),
     "tùy chọn {0} không rõ, có thể là: {1}"),
    (re.compile(r"^one of the arguments (.*) is required$"), "cần một trong các tham số: {0}"),
    (re.compile(r"^argument (.*?): (.*)$"), "{0}: {1}"),
)


def translate(message: str) -> str:
    """argparse's English error in Vietnamese (unknown ones are left as they are)."""
    message = re.sub(r"\b\w+_command\b", "LỆNH", message)  # subcommands' dest names
    for pattern, template in _ERRORS:
        match = pattern.match(message)
        if match:
            groups = [_TYPES.get(g, g) for g in match.groups()]
            return template.format(*groups)
    return message


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
        return super().add_usage(usage, actions, groups,
                                 "Cách dùng: " if prefix is None else prefix)


class VietnameseParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("formatter_class", _Formatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "tham số"
        self._optionals.title = "tùy chọn"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="in hướng dẫn này rồi thoát")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"LỖI: {translate(message)}\n"
                              f"Xem hướng dẫn: {self.prog} --help\n")
