"""Everything the user reads, in one place (Vietnamese, short, plain words)."""

from __future__ import annotations

GREETING = (
    "Xin chào {name}!\n"
    "Tôi là Trợ lý Nghị quyết. Tôi trả lời ngắn gọn các câu hỏi về "
    "Nghị quyết 57-NQ/TW và Kết luận 69-KL/TW của Bộ Chính trị, kèm nguồn trích dẫn.\n\n"
    "• Gõ câu hỏi, có dấu hay không dấu đều được. Ví dụ: «nq57 mục tiêu 2030 là gì»\n"
    "• Hoặc bấm một nút dưới đây để xem theo chủ đề."
)
GREETING_NO_NAME = "đồng chí"
RP_PICK_UNIT = "«{title}»: đồng chí phụ trách nhiều đơn vị. Chọn đơn vị để xem báo cáo:"

HELP = (
    "Cách dùng Trợ lý Nghị quyết:\n"
    "1. Gõ câu hỏi ngắn, ví dụ: «Nghị quyết 57 ban hành ngày nào?», "
    "«kl69 có mấy nhiệm vụ», «kinh te so 2030 bao nhieu».\n"
    "2. Hoặc bấm nút để xem câu hỏi theo văn bản và chủ đề.\n"
    "3. Mỗi câu trả lời đều ghi nguồn (văn bản, mục). Khi chưa chắc chắn, tôi sẽ nói rõ "
    "là chưa có câu trả lời.\n\n"
    "Lệnh: /start — trang đầu · /help — hướng dẫn · /menu — danh mục · /toi — vai trò của tôi\n"
    "Bí thư: /daquantriet — xác nhận chi bộ đã quán triệt · /baocao — số liệu quán triệt\n"
    "Đảng viên: /dahoc — báo mình đã học · Báo cáo viên: /thongbao, /dotquantriet, "
    "/cauhoi — đảng viên hỏi gì\n"
    "Tài khoản: /lienkettaikhoan — liên kết Telegram với Zalo · /huylienkettaikhoan — hủy\n"
    "Quản trị, bí thư: /moi — tạo mã mời · /thuhoi — thu hồi vai trò"
)
HELP_GROUP_NOTE = (
    "\n\nTrong nhóm, tôi chỉ trả lời khi được gọi bằng lệnh, nhắc tên (@) "
    "hoặc khi trả lời (reply) tin nhắn của tôi."
)

MENU_TITLE = "Chọn văn bản muốn tìm hiểu:"
MENU_BUTTON = "🏠 Danh mục"
HELP_BUTTON = "❓ Hướng dẫn"
TOPICS_TITLE = "{document}\nChọn chủ đề:"
QUESTIONS_TITLE = "{document} — {topic}\nChọn câu hỏi (trang {page}/{pages}):"
NEXT_PAGE = "Trang sau ▶"
PREV_PAGE = "◀ Trang trước"
BACK_TO_TOPICS = "↩ Các chủ đề"

SOURCE_LINE = "Nguồn: {source}"
RELATED_TITLE = "Câu hỏi liên quan:"
SUGGEST_TITLE = "Tôi chưa chắc mình hiểu đúng câu hỏi. Có phải đồng chí muốn hỏi:"
CLARIFY_TITLE = "Đồng chí muốn hỏi điều nào dưới đây?"
ANSWER_HEAD = "❓ {question}"
MORE_BUTTON = "📖 Xem thêm"
SMALL_TALK_THANKS = (
    "Không có gì ạ. Khi cần tìm hiểu thêm về Nghị quyết 57 hay Kết luận 69, "
    "đồng chí cứ gõ câu hỏi."
)
SMALL_TALK_BYE = "Chào đồng chí! Khi cần, đồng chí cứ nhắn câu hỏi cho tôi."
SMALL_TALK_ACK = "Vâng ạ. Đồng chí có thể gõ câu hỏi, hoặc mở danh mục để xem theo chủ đề."
SMALL_TALK_NUMBER = (
    "Số «{number}» không ứng với lựa chọn nào đang hiện. "
    "Đồng chí gõ câu hỏi bằng chữ, hoặc mở danh mục."
)
SMALL_TALK_NOISE = (
    "Đồng chí gõ câu hỏi đầy đủ hơn giúp tôi, ví dụ: «Nghị quyết 57 nói gì?», "
    "hoặc mở danh mục."
)
UNKNOWN = (
    "Xin lỗi, tôi chưa có câu trả lời cho câu hỏi này. "
    "Tôi chỉ trả lời những gì có trong nội dung đã được kiểm chứng, để tránh nói sai."
)
UNKNOWN_OTHER_DOCUMENT = (
    "Xin lỗi, câu hỏi nhắc đến văn bản mà tôi chưa có nội dung ({keys}). "
    "Tôi trả lời về Nghị quyết 57-NQ/TW, Kết luận 69-KL/TW và một số văn bản liên quan."
)
UNKNOWN_TRY = "Đồng chí có thể hỏi lại ngắn gọn hơn, hoặc xem các câu hỏi sau:"
EMPTY = (
    "Đồng chí chưa nhập câu hỏi. Hãy gõ câu hỏi, ví dụ: "
    "«Nghị quyết 57 có mấy quan điểm chỉ đạo?»"
)
NO_CONTENT = (
    "Tôi chưa hiểu tin nhắn này. Hãy gõ câu hỏi bằng chữ, ví dụ: "
    "«Kết luận 69 có mấy nhiệm vụ?»"
)
TOO_LONG = (
    "Câu hỏi dài quá ({length} ký tự). Xin hỏi ngắn gọn trong một hai câu "
    "(dưới {limit} ký tự), ví dụ: «Mục tiêu kinh tế số đến năm 2030 là bao nhiêu?»"
)
UNKNOWN_COMMAND = (
    "Tôi không biết lệnh {command}. Các lệnh dùng được: /start, /help, /menu, /toi, "
    "/daquantriet, /dahoc, /baocao."
)
STALE_BUTTON = "Nút này không còn dùng được. Mời đồng chí chọn lại từ danh mục."
ERROR = "Xin lỗi, đã có lỗi khi xử lý. Đồng chí thử lại sau ít phút nhé."

INVITE_BOUND = "Đã ghi nhận: đồng chí là {role} của {unit}. Gõ /toi để xem vai trò của mình."
INVITE_ALREADY = "Mã mời này đồng chí đã dùng rồi: đồng chí là {role} của {unit}."
INVITE_UNKNOWN = "Mã mời không đúng. Đồng chí kiểm tra lại mã (8 ký tự, ví dụ K7M2-Q9TX)."
INVITE_EXPIRED = "Mã mời đã hết hạn. Đồng chí xin cấp ủy cấp mã mới."
INVITE_USED_UP = "Mã mời đã được dùng hết số lần cho phép. Đồng chí xin cấp ủy cấp mã mới."
WHOAMI = "Đồng chí: {name} ({channel})\n"
WHOAMI_ROLES = "Vai trò:\n{roles}"
WHOAMI_NO_ROLE = (
    "Chưa có vai trò nào. Bí thư chi bộ, báo cáo viên nhận mã mời từ cấp ủy, "
    "rồi gửi mã đó cho tôi."
)
WHOLE_TREE = "toàn bộ hệ thống"
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "console": "máy tính"}

LINK_GROUP_ONLY = (
    "Lệnh này dùng trong nhóm: thêm tôi vào nhóm của chi bộ rồi gõ /lienket MÃ_ĐƠN_VỊ."
)
LINK_USAGE = "Gõ /lienket MÃ_ĐƠN_VỊ, hoặc chọn đơn vị dưới đây:"
LINK_NO_SCOPE = (
    "Đồng chí chưa có vai trò (bí thư, báo cáo viên, quản trị) nên chưa liên kết nhóm được. "
    "Hãy nhận mã mời từ cấp ủy trước."
)
LINK_UNKNOWN_UNIT = "Không có đơn vị mã {code}. Kiểm tra lại mã đơn vị."
LINK_DONE = "Đã liên kết nhóm này với {unit}."
LINK_ALREADY = "Nhóm này đã liên kết với {unit} từ trước."
LINK_NOT_ALLOWED = "Đồng chí không có quyền liên kết nhóm với {unit}."
UNLINK_DONE = "Đã hủy liên kết nhóm này với {unit}."
UNLINK_NONE = "Nhóm này chưa liên kết với đơn vị nào."
UNLINK_NOT_ALLOWED = "Đồng chí không có quyền hủy liên kết của {unit}."
GROUPS_TITLE = "Các nhóm đã liên kết ({count}):"
GROUPS_NONE = "Chưa có nhóm nào liên kết trong phạm vi của đồng chí."
GROUPS_INACTIVE = " — bot đã bị xóa khỏi nhóm"
INVITE_USAGE = (
    "Tạo mã mời: /moi VAI_TRÒ MÃ_ĐƠN_VỊ [SỐ_LẦN]\n"
    "Vai trò: bithu (bí thư/phó bí thư), dangvien (đảng viên); quản trị viên có thêm "
    "baocaovien, quantri.\nVí dụ: /moi bithu X01-CB01"
)
INVITE_PRIVATE_ONLY = (
    "Mã mời chỉ tạo trong tin nhắn riêng với tôi: mã gửi trong nhóm thì ai trong nhóm cũng "
    "dùng được. Đồng chí mở trò chuyện riêng với tôi rồi gõ /moi."
)
INVITE_NOT_ALLOWED = "Đồng chí không có quyền tạo mã mời {role} cho {unit}."
INVITE_CREATED = (
    "Mã mời {role} của {unit}: {code}\nDùng được {uses} lần, hết hạn {expires}.\n"
    "Người được mời mở đường dẫn hoặc gửi mã này cho tôi.{link}"
)

OPTIONS_HINT = "(Gõ số từ 1 đến {n} để chọn.)"
OPTIONS_HINT_GROUP = "(Trả lời tin này hoặc nhắc tên bot kèm số 1 đến {n} để chọn.)"
OPTIONS_HINT_ONE = {  # the same hints when there is a single option
    OPTIONS_HINT: "(Gõ số 1 để chọn, hoặc gõ câu hỏi.)",
    OPTIONS_HINT_GROUP: "(Trả lời tin này hoặc nhắc tên bot kèm số 1 để chọn.)",
}
# Where buttons become numbered options (Zalo, the terminal), "bấm" (press) becomes "gõ số".
NUMBERED_WORDING = (
    ("Hoặc bấm một nút dưới đây", "Hoặc gõ số của một mục dưới đây"),
    ("bấm một nút bên dưới", "gõ số của một mục bên dưới"),
    ("bấm một nút ở trên, hoặc bấm «Huỷ»", "gõ số của một mục ở trên, hoặc gõ /huy"),
    ("Bấm một nút, hoặc", "Gõ số của một mục, hoặc"),
    ("Bấm một đơn vị, hoặc", "Gõ số của một đơn vị, hoặc"),
    ("bấm một đơn vị hoặc", "gõ số của một đơn vị hoặc"),
    ("Bấm «Hôm nay»", "Gõ 1 (hôm nay)"),
    ("Bấm nút dưới đây", "Gõ số 1 dưới đây"),
)
STALE_OPTION = (
    "Số này không còn dùng được (đã quá lâu hoặc không có trong danh sách). "
    "Gõ /menu để xem lại."
)
UNSUPPORTED_MESSAGE = "Tôi chỉ đọc được tin nhắn chữ. Đồng chí gõ câu hỏi giúp tôi nhé."

LINK_CODE_CREATED = (
    "Mã liên kết tài khoản: {code}\nTrong 15 phút, gửi mã này cho bot trên {other} "
    "(từ tài khoản của chính đồng chí). Tài khoản đang có vai trò sẽ được hỏi xác nhận "
    "trước khi liên kết.\nĐừng đưa mã này cho ai khác."
)
LINK_PRIVATE_ONLY = (
    "Mã liên kết tài khoản chỉ lấy trong tin nhắn riêng với tôi. Đồng chí mở trò chuyện riêng "
    "rồi gõ /lienkettaikhoan."
)
LINK_CONFIRM = (
    "Liên kết tài khoản {channel} «{name}» với tài khoản này? "
    "Người đó sẽ có mọi quyền của đồng chí."
)
LINK_YES_BUTTON = "✅ Đồng ý"
LINK_NO_BUTTON = "✖️ Không"
LINK_WAITING = (
    "Đã nhận mã. Tài khoản {channel} «{name}» đang có vai trò nên phải xác nhận: đồng chí mở "
    "{channel}, bấm «Đồng ý» trong tin nhắn của tôi (hoặc gõ /lienkettaikhoan ở đó)."
)
LINK_CODE_DONE = "Đã liên kết tài khoản {this} này với tài khoản {other} «{name}»."
LINK_CODE_SAME = "Mã này phải gửi từ tài khoản trên kênh còn lại ({other}), không phải kênh này."
LINK_CODE_EXPIRED = "Mã liên kết đã hết hạn. Gõ /lienkettaikhoan để lấy mã mới."
LINK_CODE_UNKNOWN = (
    "Mã liên kết không đúng hoặc đã dùng. Gõ /lienkettaikhoan để lấy mã mới (mã liên kết bắt "
    "đầu bằng LK-)."
)
ACCOUNT_ALREADY_LINKED = (
    "Tài khoản này đã liên kết với tài khoản {channel} «{name}». Mỗi tài khoản chỉ liên kết "
    "với một tài khoản khác; gõ /huylienkettaikhoan để hủy liên kết cũ."
)
LINK_OTHER_ALREADY = (
    "Tài khoản kia đã liên kết với một tài khoản khác, nên chưa liên kết được. Người đó gõ "
    "/huylienkettaikhoan trước."
)
LINK_DECLINED = "Đã từ chối. Hai tài khoản không được liên kết."
LINK_DECLINED_OTHER = "Tài khoản {channel} «{name}» đã từ chối liên kết."
LINK_REQUEST_STALE = "Yêu cầu liên kết này không còn hiệu lực. Gõ /lienkettaikhoan để làm lại."
LINK_UNLINKED = (
    "Đã hủy liên kết với tài khoản {channel} «{name}». Tài khoản đó không còn dùng vai trò "
    "của đồng chí."
)
LINK_NONE = "Tài khoản này chưa liên kết với tài khoản nào."
LINK_NO_NAME = "không tên"

# /thuhoi: taking a role back
RV_PRIVATE_ONLY = "Lệnh /thuhoi dùng trong tin nhắn riêng với tôi."
RV_NOT_ALLOWED = "Xin lỗi, chỉ quản trị và bí thư mới thu hồi được vai trò trong đơn vị mình."
RV_OUTSIDE = "Đơn vị này nằm ngoài phạm vi của đồng chí."
RV_NONE = "Không có vai trò nào trong phạm vi của đồng chí mà đồng chí thu hồi được."
RV_PICK = "Chọn người và vai trò cần thu hồi:"
RV_MORE = "… và {n} vai trò khác: gõ /thuhoi MÃ_ĐƠN_VỊ để xem theo đơn vị."
RV_BUTTON = "{name} — {role} — {unit}"
RV_GRANT = "{name} ({channel}) — {role} — {unit}"
RV_CONFIRM = "Thu hồi vai trò: {grant}?"
RV_YES_BUTTON = "🗑 Thu hồi"
RV_NO_BUTTON = "✖️ Không"
RV_DONE = "Đã thu hồi: {grant}."
RV_GONE = "Vai trò này không còn, hoặc đồng chí không có quyền thu hồi."
RV_TOLD = "Vai trò {role} — {unit} của đồng chí đã được thu hồi."
INVITE_REVOKED = "Mã mời này đã bị thu hồi. Đồng chí xin cấp ủy cấp mã mới."

FILE_LINK = "Tệp «{name}»: {url}\n(Đường dẫn dùng được trong {hours} giờ.)"
FILE_NOT_ON_ZALO = (
    "Zalo chưa gửi được tệp «{name}». Đồng chí xem tệp này trên Telegram (cùng lệnh) "
    "hoặc nhờ người quản trị gửi giúp."
)
FILE_ATTACHED = "[Tệp đính kèm: {name}, {size} byte]"

# /thongbao: the broadcast composer (private chat only; reporters and admins)
BC_PRIVATE_ONLY = (
    "Lệnh /thongbao dùng trong tin nhắn riêng. Đồng chí mở trò chuyện riêng với tôi "
    "rồi gõ /thongbao."
)
BC_NOT_ALLOWED = (
    "Xin lỗi, chỉ báo cáo viên và quản trị viên mới gửi được thông báo. "
    "Nếu cần gửi, đồng chí liên hệ cấp ủy để được cấp quyền."
)
BC_LIST_TITLE = "Thông báo gần đây:"
BC_LIST_EMPTY = "Chưa có thông báo nào."
BC_DRAFT_PENDING = "Đồng chí đang soạn dở một thông báo (gõ /huy để bỏ)."
BC_NEW_BUTTON = "✍️ Soạn thông báo mới"
BC_CONTINUE_BUTTON = "✏️ Soạn tiếp"
BC_OPEN_BUTTON = "📂 #{id} {title}"
BC_PAUSE_BUTTON = "⏸ Tạm dừng"
BC_RESUME_BUTTON = "▶️ Tiếp tục"
BC_CANCEL_BUTTON = "✖️ Huỷ"
BC_NOT_FOUND = "Không có thông báo số {id}."
BC_NOT_YOURS = "Đồng chí không có quyền xem thông báo này."
BC_DONE = {
    "pause": "Đã tạm dừng thông báo #{id}.",
    "resume": "Thông báo #{id} đã chạy tiếp.",
    "cancel": "Đã huỷ thông báo #{id}. Các tin chưa gửi sẽ không gửi nữa.",
}

# a dialog that did not take a typed text (answered as a question): kept, and how to go back
DIALOG_KEPT = {
    "broadcast_draft": "📝 Bản soạn thông báo của đồng chí vẫn được giữ: gõ /thongbao rồi bấm "
                       "«✏️ Soạn tiếp» để làm tiếp, hoặc /huy để bỏ.",
    "confirm": "📝 Phần xác nhận quán triệt đang làm dở vẫn được giữ: bấm nút ở tin nhắn trước "
               "để làm tiếp, hoặc gõ /huy để bỏ.",
}
BC_QUIT_BUTTON = "✖️ Huỷ soạn"
BC_QUIT = "Đã huỷ bản soạn thông báo."
BC_NO_DRAFT = "Không có thông báo nào đang soạn."
BC_PRESS_BUTTON = "Đồng chí bấm một nút bên dưới."
BC_ASK_CONTENT = (
    "Bước 1/4 — Nội dung.\nGửi nội dung thông báo (gõ rồi gửi cho tôi), hoặc chọn:"
)
BC_ENTRY_BUTTON = "📖 Một câu hỏi–đáp"
BC_SERIES_BUTTON = "📚 Chuỗi câu hỏi hằng ngày"
BC_EMPTY = "Nội dung đang trống. Đồng chí gõ nội dung thông báo."
BC_TOO_LONG = (
    "Nội dung dài {length} ký tự, quá giới hạn {limit} ký tự cho một tin trên {platform}. "
    "Đồng chí rút gọn rồi gửi lại."
)
BC_ASK_ENTRY = (
    "Gõ câu hỏi muốn gửi, tôi tìm trong bộ hỏi đáp. "
    "Ví dụ: «Nghị quyết 57 ban hành ngày nào?»"
)
BC_ENTRY_NOT_FOUND = "Tôi chưa tìm thấy câu hỏi khớp. Đồng chí gõ lại ngắn gọn, rõ hơn."
BC_ENTRY_FOUND = "Đã chọn câu hỏi: «{question}»"
BC_ASK_DOCUMENT = "Chọn văn bản:"
BC_ASK_TOPIC = "Chọn chủ đề. Mỗi lần gửi một câu hỏi–đáp của chủ đề, lần lượt:"
BC_SERIES_FOUND = "Đã chọn chuỗi «{topic}» ({count} câu, mỗi lần gửi một câu)."
BC_ASK_UNITS = (
    "Bước 2/4 — Gửi tới đơn vị nào?\nBấm một đơn vị, hoặc gõ mã đơn vị, cách nhau bằng "
    "dấu phẩy (ví dụ: X01-CB01, X01-CB02)."
)
BC_UNITS_NOT_ALLOWED = (
    "Đồng chí không có quyền gửi thông báo tới {units}. Chỉ báo cáo viên hoặc quản trị "
    "của đơn vị đó (hoặc cấp trên) mới gửi được."
)
BC_NO_UNITS = "Chưa chọn đơn vị nào. Đồng chí bấm một đơn vị hoặc gõ mã đơn vị."
BC_ASK_AUDIENCE = "Gửi cho ai?"
BC_AUDIENCE_BUTTONS = {
    "a:all": "👥 Tất cả nhóm",
    "a:chibo": "🏠 Chỉ nhóm chi bộ",
    "a:sec": "👤 Bí thư (tin nhắn riêng)",
}
BC_ASK_CHANNEL = "Gửi qua kênh nào?"
BC_CHANNEL_BUTTONS = {"c:telegram": "Telegram", "c:zalo": "Zalo", "c:all": "Cả hai"}
BC_ASK_TIME = (
    "Bước 3/4 — Khi nào gửi?\nBấm một nút, hoặc gõ ngày giờ dạng ngày/tháng/năm giờ:phút, "
    "ví dụ 25/12/2026 07:30."
)
BC_TIME_BUTTONS = {"t:now": "🚀 Gửi ngay", "t:daily": "📅 Hằng ngày", "t:weekly": "🗓 Hằng tuần"}
BC_ASK_DAILY = "Gửi hằng ngày lúc mấy giờ? Gõ giờ:phút, ví dụ 07:30."
BC_ASK_WEEKLY = (
    "Gửi vào thứ mấy, lúc mấy giờ? Gõ các thứ rồi giờ, ví dụ: 2,5 07:30 "
    "(thứ Hai và thứ Năm, 7 giờ 30). Chủ nhật gõ CN."
)
BC_PREVIEW = (
    "Bước 4/4 — Xem lại trước khi gửi:\n\n{content}\n\n"
    "Gửi tới: {audience} thuộc {units}{level}\n{counts}\nLịch: {schedule}"
)
BC_PREVIEW_SERIES = "Chuỗi «{topic}», {count} câu, mỗi lần một câu. Câu đầu:\n{first}"
BC_LEVEL = " (chỉ cấp {level})"
BC_COUNT = "{channel}: {n} {noun}"
BC_COUNT_GROUPS = "nhóm"
BC_COUNT_PEOPLE = "người"
BC_SCHEDULE_NOW = "gửi ngay khi xác nhận"
BC_SCHEDULE_ONCE = "một lần, lúc {at}"
BC_SCHEDULE_CRON = "{repeat}, lần đầu {at}"
BC_DAILY = "hằng ngày lúc {time}"
BC_WEEKLY = "hằng tuần vào {days} lúc {time}"
BC_CRON = "lặp lại theo lịch «{cron}»"
BC_WEEKDAYS = {"mon": "thứ Hai", "tue": "thứ Ba", "wed": "thứ Tư", "thu": "thứ Năm",
               "fri": "thứ Sáu", "sat": "thứ Bảy", "sun": "Chủ nhật"}
BC_CONFIRM_BUTTON = "✅ Xác nhận gửi"
BC_CREATED = "Đã tạo thông báo #{id}. {when}\nXem lại hoặc tạm dừng: /thongbao {id}"
BC_CREATED_NOW = "Tôi bắt đầu gửi ngay."
BC_CREATED_LATER = "Lần gửi đầu: {at}."

# -- "Chi bộ đã quán triệt": confirmations, members' own marks, reports, campaigns --------------
CF_BUTTON = "✅ Chi bộ đã quán triệt"
CF_NOT_ALLOWED = (
    "Xin lỗi, chỉ bí thư {cell} (hoặc cấp ủy cấp trên) mới xác nhận quán triệt cho chi bộ được."
)
CF_NO_CELL = (
    "Xin lỗi, chỉ bí thư chi bộ mới xác nhận quán triệt được, và đồng chí chưa được đăng ký "
    "là bí thư chi bộ nào. Nếu đồng chí đã tự học, hãy gõ «Tôi đã học»."
)
CF_NO_CELL_GROUP = (
    "Nhóm này chưa liên kết với chi bộ nào, và đồng chí chưa được đăng ký là bí thư chi bộ. "
    "Bí thư chi bộ gõ /lienket trong nhóm để liên kết."
)
CF_NO_CAMPAIGN = "Xin lỗi, không tìm thấy đợt quán triệt này. Có thể nút đã cũ."
CF_UNAVAILABLE = "Xin lỗi, đợt quán triệt này không dành cho đồng chí."
CF_CLOSED = "Đợt «{title}» đã kết thúc, không nhận xác nhận nữa."
CF_NOT_IN_CAMPAIGN = "{cell} không thuộc đợt «{title}»."
CF_NONE_OPEN = "Hiện chưa có đợt quán triệt nào đang mở cho {cell}."
CF_NONE_OPEN_ANY = "Hiện chưa có đợt quán triệt nào đang mở cho chi bộ của đồng chí."
CF_ASK_CELL = "Đồng chí xác nhận thay chi bộ nào? Gõ mã chi bộ, ví dụ X01-CB01."
CF_BAD_CELL = "Không có chi bộ mã «{code}»."
CF_PICK = "Xác nhận cho chi bộ và đợt nào?"
CF_FUTURE = "Ngày sinh hoạt không thể ở tương lai."
CF_ASK_DATE = (
    "{cell} — {title}\nChi bộ sinh hoạt ngày nào? Bấm «Hôm nay» hoặc gõ ngày, ví dụ 25/12."
)
CF_TODAY = "📅 Hôm nay"
CF_YESTERDAY = "Hôm qua"
CF_ASK_ATTENDANCE = "Bao nhiêu đảng viên có mặt? Gõ có mặt/tổng số, ví dụ 23/25."
CF_ALL_BUTTON = "👥 Đủ ({n}/{n})"
CF_SUMMARY = (
    "Xác nhận thông tin:\n{cell} — {title}\nSinh hoạt ngày {held}, có mặt {attended}/{total} "
    "đảng viên ({pct}).{late}{behalf}"
)
CF_SUMMARY_LATE = "\nĐã quá hạn {deadline}: vẫn được ghi nhận, đánh dấu sau hạn."
CF_SUMMARY_BEHALF = "\nĐồng chí xác nhận thay chi bộ."
CF_OK_BUTTON = "✅ Xác nhận"
CF_CANCEL_BUTTON = "✖️ Huỷ"
CF_CANCELLED = "Đã huỷ, chưa ghi nhận gì."
CF_STALE = "Xác nhận này đã được ghi nhận hoặc đã hết hạn. Gõ /daquantriet để làm lại."
CF_PRESS_OR_TYPE = "Đồng chí bấm một nút ở trên, hoặc bấm «Huỷ»."
CF_UPDATED = "Đã cập nhật xác nhận trước đó.\n{line}"
CF_SAME = "Đã ghi nhận từ trước, không có gì thay đổi.\n{line}"
CF_BEHALF_NOTE = "\n(Cấp trên xác nhận thay chi bộ.)"
ST_DONE = "Đã ghi nhận đồng chí đã học {titles}. Cảm ơn đồng chí!"
ST_ALREADY = "Đồng chí đã ghi nhận từ trước ({titles}). Cảm ơn đồng chí!"
ST_NO_CELL = (
    "Đồng chí chưa đăng ký chi bộ nên tôi chưa ghi nhận được. Xin bí thư chi bộ mã mời, "
    "rồi gửi mã đó cho tôi trong tin nhắn riêng."
)
RP_NOT_ALLOWED = "Xin lỗi, báo cáo quán triệt chỉ dành cho bí thư, báo cáo viên và quản trị."
RP_NO_CAMPAIGN = "Chưa có đợt quán triệt nào trong phạm vi của đồng chí."
RP_PICK = "Xem báo cáo đợt nào?"
RP_NOT_FOUND = "Không tìm thấy đợt quán triệt số {id}."
RP_OUTSIDE = "Xin lỗi, đơn vị này nằm ngoài phạm vi của đồng chí."
RP_CHART_BUTTON = "📊 Biểu đồ"
RP_XLSX_BUTTON = "📥 Tải Excel"
RP_BACK_BUTTON = "↩ Báo cáo chung"
RP_EXPORT_MISSING = "Chức năng này chưa sẵn sàng, đồng chí thử lại sau."
RP_TITLE = "📊 {title} (đợt #{id}, hạn {deadline})\n{unit}"
RP_CELLS = "{done}/{cells} chi bộ ({pct}); {attended}/{members} đảng viên ({pct_members})"
RP_LATE = "Xác nhận sau hạn: {late} chi bộ"
RP_STUDIED = "Đảng viên tự báo đã học: {n}"
RP_CHILD = "• {name}: {done}/{cells} chi bộ ({pct})"
RP_LAGGARDS = "Chưa xác nhận ({count}):"
RP_LAGGARD = "• {name} — {parent}{secretaries}"
RP_MORE = "… và {n} chi bộ khác"
RP_ALL_DONE = "Tất cả chi bộ đã xác nhận."
CP_USAGE = (
    "Mở đợt quán triệt, gõ một dòng:\n/dotquantriet <văn bản> <mã đơn vị> <hạn> <tên đợt>\n"
    "Ví dụ: /dotquantriet NQ57 X01 31/12/2026 Quán triệt Nghị quyết 57"
)
CP_NOT_ALLOWED = "Xin lỗi, chỉ báo cáo viên hoặc quản trị mới mở đợt quán triệt được."
CP_CREATED = (
    "Đã mở đợt quán triệt #{id}: {title} ({document}), cho {unit}, hạn {deadline}.\n"
    "Bấm nút dưới đây để thông báo tới nhóm các chi bộ (kèm nút xác nhận đã quán triệt)."
)
CP_ANNOUNCE_BUTTON = "📢 Thông báo tới các chi bộ"
RP_NOT_STUDIED = ("Đảng viên đã đăng ký với bot chưa báo «đã học»: {n}/{registered}"
                  " — {names}")
RP_ALL_STUDIED = "Cả {registered} đảng viên đã đăng ký với bot đều đã báo «đã học»."
