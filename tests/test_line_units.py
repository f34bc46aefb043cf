"""Units of cross-document line dedup: splitting, normalising, hashing, removing."""

from __future__ import annotations

import numpy as np

from stages.line_dedup.lines import normalise_unit, remove_units, split_units, unit_hash, unit_hashes


def texts(text: str, max_unit_chars: int = 200) -> list[str]:
    return [text[u.start : u.end] for u in split_units(text, max_unit_chars)]


def test_lines_are_units_and_long_paragraphs_are_cut_into_sentences() -> None:
    text = "网易财经 会赚钱的客户端：\n\n正文第一段。第二句！第三句？“引号里的话。”最后\n  \n版权所有"
    assert texts(text) == ["网易财经 会赚钱的客户端：", "正文第一段。第二句！第三句？“引号里的话。”最后", "版权所有"]
    assert texts(text, max_unit_chars=10) == [
        "网易财经 会赚钱的客户端：",
        "正文第一段。",
        "第二句！",
        "第三句？",
        "“引号里的话。”",
        "最后",
        "版权所有",
    ]


def test_normalised_forms_fold_width_script_case_punctuation_and_digits() -> None:
    assert normalise_unit("Copyright © 2015 網易公司　版權所有。") == normalise_unit(
        "copyright 2023 网易公司 版权所有"
    )
    assert normalise_unit("第３页，共12页") == normalise_unit("第7页 共98页")
    assert normalise_unit("网易财经") != normalise_unit("新浪财经")
    assert unit_hash(normalise_unit("ＡＢＣ")) == unit_hash("abc")


def test_short_units_are_not_counted() -> None:
    text = "更多\n2015-07-01\n400-930-6677 转 123456\n网友评论仅供其表达个人看法，并不表明网易立场。"
    units = split_units(text, 200)
    hashes, positions = unit_hashes(text, units, min_chars=10)
    assert positions.tolist() == [3]
    assert hashes.dtype == np.uint64 and len(hashes) == 1


def test_removing_units_keeps_every_other_character() -> None:
    text = "标题\n\n第一段正文。推荐阅读：更多精彩请点击。第二句正文。\n相关阅读\n\n结尾段落"
    units = split_units(text, 10)
    chosen = [i for i, u in enumerate(units) if text[u.start : u.end] in ("推荐阅读：更多精彩请点击。", "相关阅读")]
    assert remove_units(text, units, np.array(chosen)) == "标题\n\n第一段正文。第二句正文。\n\n结尾段落"
    assert remove_units(text, units, np.array([], dtype=np.int64)) == text
