from content.normalize import analyze, fold, tone_key


def test_fold_removes_diacritics_and_d_bar():
    assert fold("Nghị quyết Đảng") == "nghi quyet dang"


def test_tone_placement_variants_are_equal():
    assert tone_key("hòa") == tone_key("hoà") == "hoa2"
    assert tone_key("thủy") == tone_key("thuỷ")
    assert tone_key("đảng") != tone_key("đang")


def test_nfd_input_matches_nfc_input():
    import unicodedata

    nfc = "Kết luận số 69 về khoa học"
    nfd = unicodedata.normalize("NFD", nfc)
    assert analyze(nfd).folded == analyze(nfc).folded


def test_letter_digit_runs_are_split_and_expanded():
    a = analyze("nq57 muc tieu 2030 la gi")
    assert a.tokens[:3] == ("nghi", "quyet", "57")
    assert "NQ:57" in a.doc_keys


def test_document_key_surface_forms_agree():
    forms = ["57-NQ/TW", "NQ 57", "nq57", "nghị quyết số 57", "Nghi quyet 57"]
    keys = {frozenset(k.rstrip("!") for k in analyze(f).doc_keys) for f in forms}
    assert keys == {frozenset({"NQ:57"})}


def test_issuer_suffix_is_kept_strict():
    assert analyze("71-NQ/TW").doc_keys == {"NQ:71!"}
    assert analyze("03/NQ-CP").doc_keys == {"NQCP:3!"}
    assert "NQCP:3" in analyze("nghị quyết 03 của Chính phủ").doc_keys


def test_law_and_national_assembly_codes():
    assert {"LUAT:93", "QH:93"} <= analyze("Luật 93/2025/QH15").doc_keys


def test_years_are_not_document_numbers():
    assert analyze("kế hoạch 2025 của tỉnh").doc_keys == frozenset()


def test_abbreviations_expand_both_cases():
    a = analyze("KH&CN, ĐMST và CĐS")
    assert "khoa hoc cong nghe" in a.folded
    assert "doi moi sang tao" in a.folded
    assert "chuyen doi so" in a.folded


def test_ai_uppercase_is_artificial_intelligence_but_lowercase_is_who():
    assert "tri tue nhan tao" in analyze("mục tiêu về AI").folded
    assert analyze("ai là trưởng ban").tokens[0] == "ai"


def test_fillers_removed_but_question_words_kept():
    a = analyze("Cho em hỏi nghị quyết 57 như thế nào vậy ạ")
    assert a.folded == "nghi quyet 57 nhu the nao"


def test_control_characters_and_lookalikes():
    a = analyze("Ðảng\x00 \x1b[31m ủy")
    assert a.folded.startswith("dang")
    assert "\x00" not in a.cleaned


def test_emoji_only_has_no_tokens():
    assert analyze("😀🎉!!! ???").tokens == ()
