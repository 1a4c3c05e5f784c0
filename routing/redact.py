"""Residents' personal data taken out of text before anyone anonymous reads it.

Residents type their phone number, ID number or a neighbour's licence plate into a
report's description or address.  :func:`redact` replaces each with a marker naming
what was there: mobile numbers (with or without +86 and separators), landlines
(with an area code, or a bare 7-8 digit local number), 18-digit resident ID numbers,
e-mail addresses and mainland licence plates (including new-energy plates).  Full-width
digits and letters (１３８…) are matched like ASCII ones.

It errs towards hiding: a bare 7-8 digit number is hidden even when it is not a
phone number.  Staff in scope and the reporter read the original; every anonymous
view (the Open311 listing and request, any public route) reads it through here.
"""

from __future__ import annotations

import re

MARKERS: dict[str, str] = {
    "email": "[邮箱已隐去]",
    "id_number": "[身份证号已隐去]",
    "mobile": "[手机号已隐去]",
    "landline": "[电话已隐去]",
    "plate": "[车牌号已隐去]",
}
"""What each kind of personal data is replaced with."""

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# In the order they are applied: an ID number holds runs of digits a phone pattern
# would otherwise take apart.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("id_number", re.compile(r"(?<![0-9A-Za-z])\d{6}[ -]?\d{8}[ -]?\d{3}[0-9Xx](?![0-9A-Za-z])")),
    ("mobile", re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9])")),
    (
        "landline",
        re.compile(
            r"(?<![0-9])(?:(?:\(0\d{2,3}\)|0\d{2,3})[ -]?)?[2-9]\d{6,7}"  # area code, local number
            r"(?:[ -]?(?:转|ext\.?|x)\d{1,5})?(?![0-9])",  # extension
            re.IGNORECASE,
        ),
    ),
    (
        "plate",
        re.compile(rf"[{_PROVINCES}][A-Za-z][ ·•.-]?[A-Za-z0-9]{{4,5}}[A-Za-z0-9挂学警港澳](?![A-Za-z0-9])"),
    ),
)
# Full-width ASCII (！ to ～) and the ideographic space, folded one character for one,
# so that match positions in the folded text are positions in the original.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def redact(text: str) -> str:
    """``text`` with phone numbers, ID numbers, e-mail addresses and licence plates replaced.

    Examples
    --------
    >>> redact("垃圾没人清，联系我13812345678或0538-8221234")
    '垃圾没人清，联系我[手机号已隐去]或[电话已隐去]'
    >>> redact("车牌鲁J·12345占道，我的身份证370902199001011234，邮箱 a.b@example.cn")
    '车牌[车牌号已隐去]占道，我的身份证[身份证号已隐去]，邮箱 [邮箱已隐去]'
    >>> redact("电话：１３９ ００００ １１１１，3号楼2单元")
    '电话：[手机号已隐去]，3号楼2单元'
    >>> redact("东岳大街12号")
    '东岳大街12号'
    """
    if not text:
        return text
    folded = text.translate(_FOLD)
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in _PATTERNS:
        for found in pattern.finditer(folded):
            start, end = found.span()
            if not any(start < e and s < end for s, e, _ in spans):
                spans.append((start, end, MARKERS[kind]))
    if not spans:
        return text
    out, position = [], 0
    for start, end, marker in sorted(spans):
        out += [text[position:start], marker]
        position = end
    out.append(text[position:])
    return "".join(out)
