import pytest

from handlers.render import shorten, split_text


def test_short_text_is_one_chunk():
    assert split_text("Xin chào", 100) == ["Xin chào"]


def test_split_respects_limit_and_keeps_every_word():
    text = "\n\n".join(
        f"Đoạn {i}. " + " ".join(f"câu số {j} của đoạn {i}." for j in range(40)) for i in range(6)
    )
    chunks = split_text(text, 400)
    assert all(0 < len(c) <= 400 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_split_prefers_sentence_boundaries():
    text = "Câu một khá dài. " * 30
    chunks = split_text(text, 100)
    assert all(c.endswith(".") for c in chunks)


def test_split_hard_cuts_a_word_longer_than_limit():
    chunks = split_text("a" * 250, 100)
    assert [len(c) for c in chunks] == [100, 100, 50]


def test_split_rejects_bad_limit():
    with pytest.raises(ValueError):
        split_text("x", 0)


def test_shorten_cuts_at_word_with_ellipsis():
    assert shorten("một hai ba bốn năm sáu", 12) == "một hai ba…"
