import pytest

from grids.codes import CodeError, check_code, city_prefix, parent_code_of, path_ids


@pytest.mark.parametrize(
    ("level", "code", "parent"),
    [
        (1, "320400", None),
        (1, "110000", None),  # a municipality
        (2, "320402", "320400"),
        (2, "320481", "320400"),  # a county-level city under the prefecture
        (2, "110105", "110000"),
        (3, "320402001", "320402"),
        (4, "320402001002", "320402001"),
        (5, "320402001002003", "320402001002"),
    ],
)
def test_valid_codes(level, code, parent):
    check_code(level, code, parent)


@pytest.mark.parametrize(
    ("level", "code", "parent", "reason"),
    [
        (1, "320401", None, "ending in 00"),
        (1, "32040", None, "6 digits"),
        (2, "320400", "320400", "inside city"),
        (2, "330102", "320400", "inside city"),
        (2, "320402", None, "only a city"),
        (3, "32040200A", "320402", "digits only"),
        (3, "320402001002", "320402", "wrong level"),
        (3, "320404001", "320402", "start with its parent"),
        (4, "320402001000", "320402001", "000"),
        (5, "3204020010020031", "320402001002", "15 digits"),
        (5, "320402001003003", "320402001002", "start with its parent"),
        (7, "320402", "320400", "unknown level"),
    ],
)
def test_invalid_codes_say_why(level, code, parent, reason):
    with pytest.raises(CodeError, match=reason):
        check_code(level, code, parent)


def test_city_prefix_strips_trailing_zero_pairs():
    assert city_prefix("320400") == "3204"
    assert city_prefix("110000") == "11"


def test_parent_code_is_implied_below_district_only():
    assert parent_code_of(5, "320402001002003") == "320402001002"
    assert parent_code_of(3, "320402001") == "320402"
    assert parent_code_of(2, "320402") is None


def test_path_ids():
    assert path_ids("/1/8/70/") == [1, 8, 70]
    assert path_ids("") == []
