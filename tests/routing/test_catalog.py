"""Category catalog: the shipped default, lookups, and validation of bad files."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from geo.errors import InvalidInputError, NotFoundError
from geo.levels import LEVEL_KEYS
from routing.calendar import TIME_UNITS, WorkCalendar
from routing.catalog import (
    CODE_PATTERN,
    Catalog,
    Category,
    Owner,
    TimeLimit,
    default_catalog,
    load_catalog,
    normalize_code,
)
from routing.errors import CatalogDataError, UnknownCategoryError

TZ = ZoneInfo("Asia/Shanghai")
CATALOG = load_catalog()

MAJORS = {
    "B-01": "公用设施",
    "B-02": "道路交通",
    "B-03": "市容环境",
    "B-04": "园林绿化",
    "B-05": "房屋土地",
    "B-06": "其他设施",
    "S-01": "市容环境",
    "S-02": "宣传广告",
    "S-03": "施工管理",
    "S-04": "街面秩序",
    "S-05": "突发事件",
    "S-06": "其他",
}


# --------------------------------------------------------------------------- the default
def test_default_catalog_size_and_order():
    assert 30 <= len(CATALOG) <= 45
    assert list(CATALOG.codes) == sorted(CATALOG.codes)
    assert len(set(CATALOG.codes)) == len(CATALOG)
    assert [c.code for c in CATALOG] == list(CATALOG.codes)
    assert CATALOG.source == "routing/catalog.toml"
    assert default_catalog() is default_catalog()


def test_every_major_class_is_declared_and_used():
    assert {m.code: m.name_zh for m in CATALOG.majors} == MAJORS
    for major in CATALOG.majors:
        assert CATALOG.in_major(major.code), f"{major.code} has no category"
        assert major.name_en
        assert major.kind == ("component" if major.code.startswith("B") else "event")


def test_every_category_is_complete_and_consistent():
    names = set()
    for category in CATALOG:
        assert CODE_PATTERN.match(category.code)
        assert category.kind_zh == {"component": "部件", "event": "事件"}[category.kind]
        assert category.owner.level in LEVEL_KEYS
        assert category.owner.level != "city" or category.owner.department
        assert category.time_limit.unit in TIME_UNITS
        assert category.time_limit.amount > 0
        assert category.filing.endswith("。")
        assert category.closing.endswith("。")
        assert category.name_en.isascii()
        assert category.name_zh not in names
        names.add(category.name_zh)


STORY = [
    # (Chinese name, code, owner, amount, unit): the categories the Tai'an story needs
    ("井盖缺失", "B-01-01", "district:城管局", 2, "hours"),
    ("暴露垃圾", "S-01-01", "subdistrict", 4, "working_hours"),
    ("占道经营", "S-04-01", "subdistrict", 2, "working_hours"),
    ("违法建设", "S-01-05", "district:综合行政执法局", 5, "working_days"),
    ("缺少健身设施", "B-04-04", "district:教育和体育局", 30, "working_days"),
    ("绿地缺失", "B-04-05", "city:园林局", 30, "working_days"),
    ("道路塌陷", "S-05-01", "district:城管局", 1, "hours"),
]


@pytest.mark.parametrize(("name", "code", "owner", "amount", "unit"), STORY)
def test_story_categories(name, code, owner, amount, unit):
    category = CATALOG.get(code)
    assert category.name_zh == name
    assert category.owner.key == owner
    assert category.time_limit == TimeLimit(amount, unit)


@pytest.mark.parametrize(
    "name",
    [
        "路灯不亮",
        "道路破损",
        "井盖破损",
        "垃圾满溢",
        "乱堆物料",
        "乱贴乱画",
        "违规户外广告",
        "施工扰民",
        "渣土撒漏",
        "占道施工",
        "无照经营游商",
        "店外经营",
        "乱停放非机动车",
        "积水",
        "树木倒伏",
        "绿地脏乱",
        "燃气管道泄漏",
        "供水管道破裂",
        "公厕设施故障",
        "废弃车辆",
        "宠物扰民",
    ],
)
def test_common_categories_are_present(name):
    assert name in {c.name_zh for c in CATALOG}


def test_emergencies_are_counted_in_wall_clock_hours():
    for category in CATALOG.in_major("S-05"):
        assert category.time_limit.unit == "hours"
        assert category.time_limit.amount <= 24


def test_demand_categories_are_the_green_space_and_fitness_ones():
    demand = CATALOG.demand_categories()
    assert [c.name_zh for c in demand] == ["缺少健身设施", "绿地缺失"]
    assert all(c.major == "B-04" for c in demand)
    assert not CATALOG.get("B-04-03").demand  # broken equipment is a defect, not a demand


def test_to_dict_is_json_ready():
    data = CATALOG.to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert len(data["categories"]) == len(CATALOG)
    first = data["categories"][0]
    assert first == {
        "code": "B-01-01",
        "kind": "component",
        "kind_zh": "部件",
        "major": "B-01",
        "name_zh": "井盖缺失",
        "name_en": "Missing manhole cover",
        "owner": {"key": "district:城管局", "level": "district", "department": "城管局"},
        "time_limit": {"amount": 2, "unit": "hours"},
        "filing": CATALOG.get("B-01-01").filing,
        "closing": CATALOG.get("B-01-01").closing,
        "aliases": list(CATALOG.get("B-01-01").aliases),
        "demand": False,
    }
    majors = {m["code"]: m for m in data["majors"]}
    assert majors["S-06"]["categories"] == ["S-06-01", "S-06-02"]
    assert sum(len(m["categories"]) for m in data["majors"]) == len(CATALOG)


def test_models_are_frozen():
    category = CATALOG.get("B-01-01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        category.code = "B-01-99"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG.categories = ()  # type: ignore[misc]


def test_deadlines_use_the_working_calendar():
    friday_evening = datetime(2025, 3, 7, 19, 0, tzinfo=TZ)
    assert CATALOG.get("B-01-01").due(friday_evening) == datetime(2025, 3, 7, 21, 0, tzinfo=TZ)
    assert CATALOG.get("S-01-01").due(friday_evening) == datetime(2025, 3, 10, 14, 0, tzinfo=TZ)
    assert CATALOG.get("S-01-05").due(friday_evening) == datetime(2025, 3, 14, 17, 30, tzinfo=TZ)
    custom = WorkCalendar(years=[2025])  # no holidays: 清明 (Apr 4) becomes a workday
    before_qingming = datetime(2025, 4, 3, 10, 0, tzinfo=TZ)
    assert CATALOG.get("S-04-03").due(before_qingming, custom) == datetime(2025, 4, 4, 10, tzinfo=TZ)
    assert CATALOG.get("S-04-03").due(before_qingming) == datetime(2025, 4, 7, 10, tzinfo=TZ)


# --------------------------------------------------------------------------- lookups
@pytest.mark.parametrize("typed", ["B-01-01", "b-01-01", "B0101", "b_01_01", " B 01 01 "])
def test_get_accepts_loosely_typed_codes(typed):
    assert CATALOG.get(typed).name_zh == "井盖缺失"
    assert typed in CATALOG


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("B-01-99", "B-01-06"),  # the nearest number of the same major class
        ("B-01-10", "B-01-01"),  # two digits swapped
        ("S-04-10", "S-04-01"),
        ("井盖丢失", "B-01-01"),  # an alias
        ("占道经营", "S-04-01"),  # a name
        ("口袋公园", "B-04-05"),
    ],
)
def test_unknown_codes_name_the_code_and_suggest_close_ones(typed, suggested):
    with pytest.raises(UnknownCategoryError) as info:
        CATALOG.get(typed)
    err = info.value
    assert isinstance(err, NotFoundError)
    assert err.code == "unknown_category"
    assert repr(typed) in err.message
    assert suggested in err.detail["suggestions"]
    assert suggested in err.message
    assert "B-01-01 (部件) or S-04-01 (事件)" in err.message
    assert typed not in CATALOG


def test_unknown_code_without_anything_close():
    with pytest.raises(UnknownCategoryError) as info:
        CATALOG.get("zzz")
    assert info.value.detail["suggestions"] == []
    assert "did you mean" not in info.value.message


def test_non_string_code_is_invalid_input():
    with pytest.raises(InvalidInputError, match="is not a string"):
        CATALOG.get(101)  # type: ignore[arg-type]


def test_unknown_major_names_the_allowed_ones():
    with pytest.raises(UnknownCategoryError, match="unknown major class 'B-07'; allowed: B-01, B-02"):
        CATALOG.major("B-07")


def test_normalize_code():
    assert normalize_code("s0401") == "S-04-01"
    assert normalize_code("X-01-01") is None
    assert normalize_code("B-1-1") is None


@pytest.mark.parametrize(
    ("text", "level", "department"),
    [
        ("community", "community", None),
        ("district:综合行政执法局", "district", "综合行政执法局"),
        ("city:园林局", "city", "园林局"),
    ],
)
def test_owner_parse(text, level, department):
    owner = Owner.parse(text)
    assert (owner.level, owner.department, owner.key) == (level, department, text)


# --------------------------------------------------------------------------- bad files
MAJOR = """
[[major]]
code = "B-01"
name_zh = "公用设施"
name_en = "Public utilities"
"""

FIELDS = {
    "code": '"B-01-01"',
    "name_zh": '"井盖缺失"',
    "name_en": '"Missing manhole cover"',
    "owner": '"district:城管局"',
    "limit": "2",
    "limit_unit": '"hours"',
    "filing": '"井盖缺失。"',
    "closing": '"已补装。"',
    "aliases": '["井盖丢失"]',
}


def category_toml(**changes: str | None) -> str:
    """One [[category]] table; a change of None drops the field."""
    fields = {**FIELDS, **changes}
    lines = [f"{key} = {value}" for key, value in fields.items() if value is not None]
    return "\n[[category]]\n" + "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[CatalogDataError, Path]:
    path = write(tmp_path, text)
    with pytest.raises(CatalogDataError) as info:
        load_catalog(path)
    assert info.value.code == "invalid_catalog"
    assert isinstance(info.value, InvalidInputError)
    assert info.value.message.startswith(str(path))
    return info.value, path


def test_the_minimal_file_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, 'name = "测试"\n' + MAJOR + category_toml()))
    assert catalog.codes == ("B-01-01",)
    assert catalog.name == "测试"
    assert catalog.source == str(tmp_path / "catalog.toml")


@pytest.mark.parametrize(
    ("changes", "field", "named", "allowed"),
    [
        (
            {"owner": '"town"'},
            "owner",
            "unknown level 'town'",
            "community, subdistrict, district, city:<department>",
        ),
        (
            {"owner": '"province:住建局"'},
            "owner",
            "unknown level 'province'",
            "community, subdistrict, district",
        ),
        ({"owner": '"city"'}, "owner", "owner 'city' needs a department", "city:<department>"),
        ({"owner": '"district:"'}, "owner", "empty department", "city:<department>"),
        ({"limit_unit": '"days"'}, "limit_unit", "'days' is not allowed", ", ".join(TIME_UNITS)),
        ({"limit_unit": '"Hours"'}, "limit_unit", "'Hours' is not allowed", ", ".join(TIME_UNITS)),
        ({"limit": "0"}, "limit", "0 is not allowed", "a positive number of hours up to 100000"),
        ({"limit": "-4"}, "limit", "-4 is not allowed", "a positive number of hours"),
        ({"limit": "nan"}, "limit", "nan is not allowed", "a positive number of hours"),
        ({"limit": "inf"}, "limit", "inf is not allowed", "a positive number of hours"),
        ({"limit": "1e9"}, "limit", "1000000000.0 is not allowed", "up to 100000"),
        ({"limit": '"2"'}, "limit", "'2' is not allowed", "a positive number of hours"),
        ({"limit": "true"}, "limit", "True is not allowed", "a positive number of hours"),
        ({"name_zh": None}, "name_zh", "missing", "required fields: code, name_zh, name_en"),
        ({"name_en": None}, "name_en", "missing", "required fields"),
        ({"name_zh": '""'}, "name_zh", "'' is not allowed", "a non-empty Chinese name"),
        ({"name_zh": '"Missing cover"'}, "name_zh", "has no Chinese character", "a Chinese name"),
        ({"name_en": '"  "'}, "name_en", "'  ' is not allowed", "a non-empty English name"),
        ({"name_en": '"井盖"'}, "name_en", "has no Latin letter", "an English name"),
        ({"filing": None}, "filing", "missing", "required fields"),
        ({"closing": "3"}, "closing", "3 is not allowed", "the closing conditions (结案条件)"),
        ({"limit_unit": None}, "limit_unit", "missing", "required fields"),
        ({"aliases": '"井盖"'}, "aliases", "'井盖' is not allowed", "a list of non-empty strings"),
        ({"demand": '"yes"'}, "demand", "'yes' is not allowed", "true or false"),
    ],
)
def test_bad_category_fields(tmp_path, changes, field, named, allowed):
    err, _ = load_error(tmp_path, MAJOR + category_toml(**changes))
    assert f"category B-01-01: field '{field}'" in err.message
    assert named in err.message
    assert f"allowed: {allowed}" in err.message or allowed in err.message
    assert err.detail["code"] == "B-01-01"
    assert err.detail["field"] == field


@pytest.mark.parametrize("code", ['"B0101"', '"X-01-01"', '"B-01-1"', "101", None])
def test_bad_codes_name_the_scheme(tmp_path, code):
    err, _ = load_error(tmp_path, MAJOR + category_toml(code=code))
    assert "category #1" in err.message
    assert "allowed: K-MM-NN with K = B (部件) or S (事件), e.g. B-01-01" in err.message


def test_unknown_field_is_named(tmp_path):
    err, _ = load_error(tmp_path, MAJOR + category_toml(limt="3"))
    assert "category B-01-01: unknown field 'limt'" in err.message
    assert "allowed: aliases, closing, code, demand" in err.message


def test_duplicate_codes_name_both_entries(tmp_path):
    err, _ = load_error(tmp_path, MAJOR + category_toml() + category_toml(name_zh='"另一个"'))
    assert "category B-01-01: duplicate code (entries #1 and #2)" in err.message


def test_duplicate_chinese_names(tmp_path):
    err, _ = load_error(tmp_path, MAJOR + category_toml() + category_toml(code='"B-01-02"'))
    assert "category B-01-02: field 'name_zh': '井盖缺失' is already the name of B-01-01" in err.message


def test_undeclared_major_class(tmp_path):
    err, _ = load_error(tmp_path, MAJOR + category_toml(code='"S-04-01"'))
    assert "category S-04-01: field 'code': major class S-04 is not declared" in err.message
    assert "allowed: B-01 (add a [[major]] table)" in err.message


def test_bad_major_classes(tmp_path):
    err, _ = load_error(tmp_path, MAJOR + MAJOR + category_toml())
    assert "major class B-01 is declared twice" in err.message
    err, _ = load_error(tmp_path, MAJOR.replace('"B-01"', '"B-1"') + category_toml())
    assert "'B-1' is not allowed; allowed: B-NN or S-NN" in err.message
    err, _ = load_error(tmp_path, MAJOR.replace('name_en = "Public utilities"\n', "") + category_toml())
    assert "field 'name_en': missing; allowed: the English name of major class B-01" in err.message


def test_unknown_top_level_field_and_schema(tmp_path):
    err, _ = load_error(tmp_path, "categories = []\n" + MAJOR)
    assert "unknown field 'categories' in top level" in err.message
    err, _ = load_error(tmp_path, "schema = 2\n" + MAJOR)
    assert "field 'schema': 2 is not supported; allowed: 1" in err.message


def test_malformed_toml_names_the_line(tmp_path):
    text = MAJOR + category_toml(owner='"district')  # unterminated string
    err, path = load_error(tmp_path, text)
    line = text.splitlines().index('owner = "district') + 1
    assert f"{path}: malformed TOML at line {line}" in err.message
    assert err.detail["line"] == line


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CatalogDataError, match=r"nope\.toml: cannot read the catalog file"):
        load_catalog(tmp_path / "nope.toml")


def test_from_dict_and_direct_construction_validate_too():
    with pytest.raises(CatalogDataError, match="major class B-01 is not declared"):
        Catalog((), (CATALOG.get("B-01-01"),))
    with pytest.raises(CatalogDataError, match="unknown level 'village'"):
        Owner("village")
    category = Category(
        "B-01-01", "井盖缺失", "Missing cover", Owner("community"), TimeLimit(1, "hours"), "。", "。"
    )
    assert Catalog(CATALOG.majors, (category,)).get("B0101") is category
