"""Message templates: `{column}` placeholders filled from each contact's CSV row.

The syntax is Python's `str.format` reduced to plain names: `{first_name}` is replaced by that
column's value, `{{` and `}}` stand for literal braces. Attribute access, indexing, conversions and
format specs are refused, so a template can never reach into anything but the row. In SSML the
values are XML-escaped, so a name like "Smith & Sons" cannot break the markup.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .errors import ValidationError

_FORMATTER = string.Formatter()
# Quotes too, so that a value placed inside an attribute (interpret-as="{kind}") cannot end it.
_XML_QUOTES = {'"': "&quot;", "'": "&apos;"}


@dataclass(frozen=True)
class Template:
    text: str
    escape_xml: bool = False

    @classmethod
    def parse(cls, text: str, *, escape_xml: bool = False) -> Template:
        """Check the syntax; raises `ValidationError` saying what is wrong and where."""
        if not text.strip():
            raise ValidationError("the message template is empty")
        try:
            pieces = list(_FORMATTER.parse(text))
        except ValueError as exc:
            raise ValidationError(
                f"message template is not valid: {exc} "
                "(write {column} for a value, {{ and }} for literal braces)"
            ) from None
        for _literal, field_name, format_spec, conversion in pieces:
            if field_name is None:
                continue
            if not field_name.isidentifier() and not _is_plain_column(field_name):
                raise ValidationError(
                    f"message template placeholder {{{field_name}}} is not a column name "
                    "(only {column} is allowed: no dots, brackets or positions)"
                )
            if format_spec or conversion:
                raise ValidationError(
                    f"message template placeholder {{{field_name}...}} has a format or "
                    "conversion; only plain {column} is allowed"
                )
        return cls(text, escape_xml)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the template needs, in order of first use."""
        seen: dict[str, None] = {}
        for _literal, field_name, _spec, _conv in _FORMATTER.parse(self.text):
            if field_name is not None:
                seen.setdefault(field_name, None)
        return tuple(seen)

    def missing(self, row: Mapping[str, str | None]) -> list[str]:
        """The needed columns that are absent or blank in `row`."""
        return [column for column in self.columns if not (row.get(column) or "").strip()]

    def render(self, row: Mapping[str, str | None]) -> str:
        """The message for one contact. Every needed column must be present (see `missing`)."""
        parts: list[str] = []
        for literal, field_name, _spec, _conv in _FORMATTER.parse(self.text):
            parts.append(literal)
            if field_name is not None:
                value = (row.get(field_name) or "").strip()
                parts.append(escape(value, _XML_QUOTES) if self.escape_xml else value)
        return "".join(parts)


def _is_plain_column(name: str) -> bool:
    """CSV headers are often not identifiers ("first name", "appt-date"): allow them too."""
    return bool(name) and not any(ch in name for ch in ".[]!:{}") and not name.isdigit()
