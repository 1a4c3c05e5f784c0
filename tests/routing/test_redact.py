"""Personal data out of anonymous views: what is hidden, and what is left alone."""

from __future__ import annotations

import pytest

from routing.redact import MARKERS, redact

MOBILE, LANDLINE, ID, EMAIL, PLATE = (
    MARKERS[k] for k in ("mobile", "landline", "id_number", "email", "plate")
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请联系13812345678", f"请联系{MOBILE}"),
        ("电话 138 1234 5678 谢谢", f"电话 {MOBILE} 谢谢"),
        ("电话138-1234-5678", f"电话{MOBILE}"),
        ("+86 13812345678", MOBILE),
        ("8613812345678", MOBILE),
        ("１３８１２３４５６７８", MOBILE),  # full-width digits
        ("座机0538-8221234", f"座机{LANDLINE}"),
        ("座机(0538)8221234转123", f"座机{LANDLINE}"),
        ("家里电话8221234", f"家里电话{LANDLINE}"),  # a bare local number
        ("身份证370902199001011234", f"身份证{ID}"),
        ("身份证37090219900101123x。", f"身份证{ID}。"),
        ("370902 19900101 1234", ID),
        ("发到 Zhang.San+city@mail.example.com.cn 吧", f"发到 {EMAIL} 吧"),
        ("鲁J12345停在消防通道", f"{PLATE}停在消防通道"),
        ("鲁J·D12345", PLATE),  # a new-energy plate, with the dot
        ("鲁j 1234x", PLATE),
        ("电话13812345678，车鲁J12345", f"电话{MOBILE}，车{PLATE}"),
    ],
)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "东岳大街12号3号楼2单元501室",
        "拨打12345热线反映",
        "2025年3月3日上午9点",
        "三里社区 370902002001 网格",  # a 12-digit unit code is no phone number
        "井盖直径600mm，缺失2个",
        "鲁班路",  # a province character before a word is no plate
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text
