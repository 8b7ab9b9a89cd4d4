"""What can happen to one message sent to one chat, as the dispatcher needs to know it.

Senders translate their platform's errors into these; the dispatcher decides what to do.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A send that did not (certainly) succeed. `reason` is shown to the broadcast's creator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(DeliveryError):
    """429: wait `retry_after` seconds before sending anything more on this channel."""

    def __init__(self, retry_after: float, reason: str = "giới hạn tốc độ (429)") -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ChatGone(DeliveryError):
    """403: the bot was removed from the group or blocked; the chat is marked inactive."""


class ChatNotFound(DeliveryError):
    """The platform does not know the chat (deleted group, wrong id)."""


class ChatMoved(DeliveryError):
    """The group became a supergroup with a new id; send there instead."""

    def __init__(self, new_id: str) -> None:
        super().__init__("nhóm đã chuyển sang mã mới")
        self.new_id = new_id


class Transient(DeliveryError):
    """Failed before the platform accepted the message (connection refused, 5xx): retry."""


class Uncertain(DeliveryError):
    """No answer in time after the request went out: it may have been delivered. Never resent
    blindly, because the platforms have no idempotency key."""


class Rejected(DeliveryError):
    """The platform refused this message for good (400 other than a missing chat)."""


# The reasons a creator reads in the run summary.
REASON_GONE = "bot bị xoá khỏi nhóm hoặc bị chặn"
REASON_NOT_FOUND = "không tìm thấy nhóm"
REASON_INACTIVE = "nhóm đã ngừng hoạt động với bot"
REASON_CANCELLED = "thông báo đã bị huỷ"
REASON_NETWORK = "lỗi mạng, đã thử lại nhiều lần"
REASON_TIMEOUT = "không nhận được phản hồi (có thể đã gửi)"
REASON_DUPLICATE_AFTER_MIGRATION = "nhóm đã nâng cấp; tin được gửi theo mã mới"
