"""Message templates: what parses, what is refused, and what each contact hears."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from campaigner.errors import ValidationError
from campaigner.templates import Template


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("Hello", ()),
        ("Hello {name}", ("name",)),
        ("{name}, {day} at {time}; bye {name}", ("name", "day", "time")),
        ("{first name} {appt-date}", ("first name", "appt-date")),
        ("{名前}さん", ("名前",)),
        ("{{literal}} and {{{name}}}", ("name",)),
    ],
)
def test_columns(text: str, columns: tuple[str, ...]) -> None:
    assert Template.parse(text).columns == columns


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("Hello {name", "is not valid"),
        ("Hello name}", "is not valid"),
        ("Hello {}", "is not a column name"),
        ("Hello {0}", "is not a column name"),
        ("Hello {user.name}", "is not a column name"),
        ("Hello {names[0]}", "is not a column name"),
        ("Hello {name!r}", "has a format or conversion"),
        ("Hello {name:>10}", "has a format or conversion"),
        ("Hello {name:{width}}", "has a format or conversion"),
    ],
)
def test_parse_refuses(text: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Template.parse(text)


@pytest.mark.parametrize(
    ("text", "row", "heard"),
    [
        ("Hello {name}", {"name": "Ann"}, "Hello Ann"),
        ("Hello {name}", {"name": "  Ann  "}, "Hello Ann"),
        ("{{name}} is {name}", {"name": "Ann"}, "{name} is Ann"),
        ("Hello {name}", {"name": "{day}"}, "Hello {day}"),  # a value is never a template
        ("Hi {name}", {"name": "Bob & <Co>"}, "Hi Bob & <Co>"),  # plain text is not escaped
    ],
)
def test_render_text(text: str, row: dict[str, str], heard: str) -> None:
    assert Template.parse(text).render(row) == heard


@pytest.mark.parametrize(
    "value",
    ["Smith & Sons", "<break time='9s'/>", 'date" foo="bar', "O'Brien", "]]>"],
)
def test_ssml_values_cannot_break_the_markup(value: str) -> None:
    template = Template.parse(
        "<speak><say-as interpret-as=\"{kind}\">{name}</say-as><mark name='{name}'/></speak>",
        escape_xml=True,
    )
    rendered = template.render({"kind": value, "name": value})
    document = ElementTree.fromstring(rendered)
    say_as = document.find("say-as")
    assert say_as is not None
    assert say_as.get("interpret-as") == value
    assert say_as.text == value
    mark = document.find("mark")
    assert mark is not None
    assert mark.get("name") == value


@pytest.mark.parametrize(
    ("row", "missing"),
    [
        ({"name": "Ann", "day": "Monday"}, []),
        ({"name": "Ann"}, ["day"]),
        ({"name": "Ann", "day": "   "}, ["day"]),
        ({"name": None, "day": ""}, ["name", "day"]),
        ({}, ["name", "day"]),
    ],
)
def test_missing(row: dict[str, str | None], missing: list[str]) -> None:
    assert Template.parse("Hello {name}, see you {day}, {name}").missing(row) == missing
