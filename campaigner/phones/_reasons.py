"""Why a number is rejected, worded for the person fixing the contact list."""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult
from phonenumbers.phonemetadata import PhoneMetadata

MISSING = "missing phone number"


def parse_failure(exc: NumberParseException, text: str, region: str | None) -> str:
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if region is None and not text.startswith(("+", "\uff0b")):
            return "no country code and no default region (use --region)"
        return "unknown country code"
    if kind == NumberParseException.TOO_SHORT_AFTER_IDD:
        return "too short after the international prefix"
    if kind == NumberParseException.TOO_SHORT_NSN:
        return "too short"
    if kind == NumberParseException.TOO_LONG:
        return "too long"
    return "not a phone number"


def extension(number: phonenumbers.PhoneNumber) -> str:
    return f"has an extension ({number.extension}); an automated call cannot dial one"


def invalid(number: phonenumbers.PhoneNumber, text: str, region: str | None) -> str:
    """For a parsed number that is not valid: too short, too long, or not valid, and where."""
    code = number.country_code or 0
    country = phonenumbers.region_code_for_country_code(code)
    where = f"region {country}" if country == region else f"+{code} ({country})"
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        reason = f"too short for {where}"
    elif possible == ValidationResult.TOO_LONG:
        reason = f"too long for {where}"
    else:
        reason = f"not a valid number for {where}"
    if region is not None and text.startswith("00") and not _is_international_prefix(text, region):
        # "0044 20 7946 0018" in a US list: read as a US number, since the US dials 011.
        reason += f" (00 is not the international prefix in {region}: write + and the country code)"
    return reason


def _is_international_prefix(text: str, region: str) -> bool:
    return _international_prefix(region).match(phonenumbers.normalize_digits_only(text)) is not None


@cache
def _international_prefix(region: str) -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region(region)
    prefix = metadata.international_prefix if metadata is not None else None
    return re.compile(prefix or "$^")  # a region without one: nothing is an international prefix
