"""clean_attributes: answers to a category's questions, checked by type."""

from __future__ import annotations

import pytest

from cases.attributes import clean_attributes
from cases.errors import CaseInputError
from cases.models import Category

pytestmark = pytest.mark.django_db

ANSWERED = {
    "hurt": "no",
    "size": ["s", "l", "s"],
    "depth": "3.50",
    "seen": "2025-05-01T08:30:00+08:00",
    "landmark": "  天宁寺东门  ",
    "details": "井盖碎成两半\r\n旁边有学校",
}


def refused(category, raw) -> CaseInputError:
    with pytest.raises(CaseInputError) as caught:
        clean_attributes(category, raw)
    return caught.value


def test_every_type_is_cleaned_and_kept_in_question_order(questions):
    answers = clean_attributes(questions, ANSWERED)
    assert answers == {
        "hurt": "no",
        "size": ["s", "l"],
        "depth": 3.5,
        "seen": "2025-05-01T08:30:00+08:00",
        "landmark": "天宁寺东门",
        "details": "井盖碎成两半\n旁边有学校",
    }
    assert list(answers) == ["hurt", "size", "depth", "seen", "landmark", "details"]


def test_cleaning_twice_gives_the_same_answers(questions):
    once = clean_attributes(questions, ANSWERED)
    assert clean_attributes(questions, once) == once


def test_empty_answers_count_as_none_and_optional_ones_are_left_out(questions):
    answers = clean_attributes(
        questions, {"hurt": ["yes"], "size": [""], "depth": "", "notice": " ", "seen": None}
    )
    assert answers == {"hurt": "yes"}


@pytest.mark.parametrize("raw", [None, {}, {"hurt": ""}, {"hurt": [" ", ""]}, {"size": "s"}])
def test_a_required_question_must_be_answered(questions, raw):
    error = refused(questions, raw)
    assert error.field == "attribute[hurt]" and error.code == "required" and error.status == 400
    assert "attribute[hurt]" in error.message and "Is anyone hurt?" in error.message


def test_an_unknown_code_is_refused_by_name(questions):
    error = refused(questions, {"hurt": "no", "colour": "red"})
    assert error.field == "attribute[colour]" and error.code == "unknown_attribute"
    assert "BJ0101" in error.message


def test_information_only_attributes_take_no_answer(questions):
    error = refused(questions, {"hurt": "no", "notice": "ok"})
    assert error.field == "attribute[notice]" and error.code == "unknown_attribute"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), ("-0.25", -0.25), ("+7", 7), ("1e3", 1000), ("2.0", 2), (5, 5), (1.5, 1.5)],
)
def test_numbers(questions, value, expected):
    assert clean_attributes(questions, {"hurt": "no", "depth": value})["depth"] == expected


@pytest.mark.parametrize("value", ["abc", "1,5", "nan", "inf", "1e999", "0x10", "1" * 41, "--1"])
def test_what_is_not_a_number(questions, value):
    error = refused(questions, {"hurt": "no", "depth": value})
    assert error.field == "attribute[depth]" and error.code == "invalid_number"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-05-01T08:30:00Z", "2025-05-01T08:30:00+00:00"),
        ("2025-05-01T08:30:00+08:00", "2025-05-01T08:30:00+08:00"),
        ("2025-05-01T08:30", "2025-05-01T08:30:00+08:00"),  # local time (Asia/Shanghai)
        ("2025-05-01", "2025-05-01"),
    ],
)
def test_datetimes_are_iso_8601(questions, value, expected):
    assert clean_attributes(questions, {"hurt": "no", "seen": value})["seen"] == expected


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "2025-02-30T10:00:00Z", "05/01/2025"])
def test_what_is_not_a_datetime(questions, value):
    error = refused(questions, {"hurt": "no", "seen": value})
    assert error.field == "attribute[seen]" and error.code == "invalid_datetime"


@pytest.mark.parametrize("value", ["maybe", "YES", ["yes", "no"]])
def test_a_single_choice_is_one_of_the_keys(questions, value):
    error = refused(questions, {"hurt": value})
    assert error.field == "attribute[hurt]"
    assert error.code in {"invalid_choice", "invalid"}


def test_a_multiple_choice_takes_only_keys(questions):
    error = refused(questions, {"hurt": "no", "size": ["s", "xl"]})
    assert error.field == "attribute[size]" and error.code == "invalid_choice"
    assert "xl" in error.message and "s, m, l" in error.message


def test_short_text_is_one_line_of_at_most_200_characters(questions):
    assert clean_attributes(questions, {"hurt": "no", "landmark": "路" * 200})["landmark"]
    error = refused(questions, {"hurt": "no", "landmark": "路" * 201})
    assert error.field == "attribute[landmark]" and error.code == "too_long"
    error = refused(questions, {"hurt": "no", "landmark": "第一行\n第二行"})
    assert error.field == "attribute[landmark]" and error.code == "invalid"


def test_long_text_is_at_most_4000_characters(questions):
    assert clean_attributes(questions, {"hurt": "no", "details": "字\n" * 2000})["details"]
    error = refused(questions, {"hurt": "no", "details": "字" * 4001})
    assert error.field == "attribute[details]" and error.code == "too_long"


@pytest.mark.parametrize("value", [{"a": 1}, True, [["nested"]], object()])
def test_answers_are_text(questions, value):
    error = refused(questions, {"hurt": "no", "landmark": value})
    assert error.field == "attribute[landmark]"


def test_answers_must_come_as_a_mapping(questions):
    assert refused(questions, ["hurt", "no"]).field == "attribute"


def test_a_category_without_questions_takes_no_answers(world):
    plain = Category.objects.get(code="BJ0102")
    assert clean_attributes(plain, {}) == {}
    assert clean_attributes(plain, {"hurt": ""}) == {}
    assert refused(plain, {"hurt": "no"}).field == "attribute[hurt]"
