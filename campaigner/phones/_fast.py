"""The fast path: phonenumbers' own parse and validation rules, without their per-call overhead.

Most numbers in a contact list are ASCII digits with a few separators ("+1 (415) 555-2671",
"415.555.2671", "0044 20 7946 0018"). For those, `phonenumbers.parse` spends most of its time
finding the number in free text, looking for extensions and normalising Unicode digits, and
`is_valid_number` plus `time_zones_for_number` classify the number four times over, compiling (or
looking up) each metadata pattern on every call.

Here the same steps run on the digits alone, with every metadata pattern compiled once per region:
country code (from "+", the region's international prefix, or the region's own code written
without "+"), national prefix stripping, then one classification that gives both validity and the
type that decides the time-zone lookup. Each step is a transcription of the phonenumbers function
named in its docstring, applied to the same metadata, so the results are the library's; the
property test in tests/test_phones.py compares the two paths on generated input.

Text outside those shapes (letters, extensions, Unicode digits or spaces...) and numbers the
fast parse gives up on go to the reference path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from . import _reasons as reasons

# ASCII digits and the separators people type, with at most a leading "+". For such text, parse()
# sees exactly the digits: no extension, no letters, nothing to trim that is not a separator.
_SHAPE = re.compile(r"\+?[0-9 ().\-]+", re.ASCII)
_SEPARATORS = b"+ ().-"
_MIN_NSN, _MAX_NSN, _MAX_COUNTRY_CODE = 2, 17, 3  # phonenumbers' own limits
_MAX_INPUT = 250  # longer text is TOO_LONG for parse() whatever it holds
_UNKNOWN_ZONE = "Etc/Unknown"

# A classification step: the type it proves, the lengths it allows (empty: any), its pattern.
_Check = tuple[int, frozenset[int], re.Pattern[str]]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One region's metadata, compiled: what parsing and classifying a number needs."""

    country_code: int
    general: re.Pattern[str] | None
    lengths: tuple[int, ...]  # possible lengths of the general description, in metadata order
    local_lengths: frozenset[int]
    national_prefix: re.Pattern[str] | None
    transform_rule: str | None
    international_prefix: re.Pattern[str] | None
    leading_digits: re.Pattern[str] | None
    checks: tuple[_Check, ...]  # premium rate ... voicemail, in phonenumbers' order
    any_check: re.Pattern[str] | None  # matches whatever one of `checks` could match
    fixed_line: _Check | None
    mobile: _Check | None
    same_mobile_and_fixed_line: bool


def fast_normalise(text: str, region: str | None) -> tuple[str, str | None] | str | None:
    """(E.164, zone or None) for a valid number in a common shape, the reason for an invalid one,
    or None: not a shape this path knows, use the reference path.

    `text` is already stripped of surrounding white space.
    """
    if len(text) > _MAX_INPUT or not _SHAPE.fullmatch(text):
        return None
    digits = text.encode("ascii").translate(None, _SEPARATORS).decode("ascii")
    if len(digits) < 3:
        return None
    parsed = _parse(digits, text[0] == "+", region)
    if parsed is None:
        return None
    country_code, nsn = parsed
    number_type = _number_type(country_code, nsn)
    if number_type == PhoneNumberType.UNKNOWN:
        return reasons.invalid(phone_number(country_code, nsn), text, region)
    e164_digits = f"{country_code}{nsn}"
    return "+" + e164_digits, _zone(number_type, country_code, e164_digits)


def phone_number(country_code: int, nsn: str) -> phonenumbers.PhoneNumber:
    """The PhoneNumber parse() builds (see _set_italian_leading_zeros_for_phone_number)."""
    zeros = min(len(nsn) - len(nsn.lstrip("0")), len(nsn) - 1)
    return phonenumbers.PhoneNumber(
        country_code=country_code,
        national_number=int(nsn),
        italian_leading_zero=True if zeros > 0 else None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


def _parse(digits: str, plus: bool, region: str | None) -> tuple[int, str] | None:
    """phonenumberutil.parse (and _maybe_extract_country_code) on separator-free digits."""
    if plus:
        return _after_international_prefix(digits)
    if region is None:
        return None
    plan = _region_plan(region)
    idd = plan.international_prefix.match(digits) if plan.international_prefix else None
    if idd is not None and not digits.startswith("0", idd.end()):
        # _parse_prefix_as_idd: an international prefix followed by a 0 is not one.
        return _after_international_prefix(digits[idd.end() :])
    own_code = str(plan.country_code)
    if digits.startswith(own_code):
        # The region's own country code written without "+" (1-415-555-2671 in the US) counts as
        # one only if the rest fits the region better than the whole does.
        rest = _strip_national_prefix(digits[len(own_code) :], plan)
        if (not _matches(plan.general, digits) and _matches(plan.general, rest)) or (
            _length_result(digits, plan) == "too long"
        ):
            return _national(plan.country_code, rest)
    return _national(plan.country_code, digits, plan)


def _after_international_prefix(digits: str) -> tuple[int, str] | None:
    """_extract_country_code after "+" or an international prefix, then the national part."""
    if len(digits) <= _MIN_NSN or digits[0] == "0":
        return None
    for size in range(1, min(len(digits), _MAX_COUNTRY_CODE) + 1):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _national(country_code, digits[size:])
    return None


def _national(
    country_code: int, national: str, plan: _Plan | None = None
) -> tuple[int, str] | None:
    """The end of parse(): national prefix stripping (kept only if the rest has a possible
    length), then the length limits.

    `plan` is the default region's when no country code was found; once one was, parse() uses the
    metadata of the country code's main region.
    """
    if len(national) < _MIN_NSN:
        return None
    if plan is None:
        plan = _country_plans(country_code)[0]
    stripped = _strip_national_prefix(national, plan)
    if _length_result(stripped, plan) in ("possible", "too long"):
        national = stripped
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    return country_code, national


def _strip_national_prefix(number: str, plan: _Plan) -> str:
    """_maybe_strip_national_prefix_carrier_code, without the carrier code."""
    if not number or plan.national_prefix is None:
        return number
    match = plan.national_prefix.match(number)
    if match is None:
        return number
    viable = _matches(plan.general, number)
    groups = match.groups()
    if not plan.transform_rule or groups[-1] is None:
        stripped = number[match.end() :]
    else:
        stripped = plan.national_prefix.sub(plan.transform_rule, number, count=1)
    if viable and not _matches(plan.general, stripped):
        return number
    return stripped


def _length_result(number: str, plan: _Plan) -> str:
    """_test_number_length against the general description: only the outcomes parse() needs."""
    size = len(number)
    if size in plan.local_lengths:
        return "local only"
    if size == plan.lengths[0]:
        return "possible"
    if size < plan.lengths[0]:
        return "too short"
    if size > plan.lengths[-1]:
        return "too long"
    return "possible" if size in plan.lengths[1:] else "invalid length"


def _matches(pattern: re.Pattern[str] | None, number: str) -> bool:
    return pattern is not None and pattern.fullmatch(number) is not None


def _number_type(country_code: int, nsn: str) -> int:
    """number_type(): the region the number belongs to, then its type there (UNKNOWN if invalid)."""
    plans = _country_plans(country_code)
    if len(plans) == 1:
        return _type_in(nsn, plans[0])
    for plan in plans:
        if plan.leading_digits is not None:
            if plan.leading_digits.match(nsn):
                return _type_in(nsn, plan)
        else:
            number_type = _type_in(nsn, plan)
            if number_type != PhoneNumberType.UNKNOWN:
                return number_type
    return PhoneNumberType.UNKNOWN


def _type_in(nsn: str, plan: _Plan) -> int:
    """_number_type_helper with precompiled patterns."""
    if (plan.lengths and len(nsn) not in plan.lengths) or not _matches(plan.general, nsn):
        return PhoneNumberType.UNKNOWN
    if plan.any_check is not None and plan.any_check.fullmatch(nsn):
        for number_type, lengths, pattern in plan.checks:
            if (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn):
                return number_type
    if _passes(plan.fixed_line, nsn):
        if plan.same_mobile_and_fixed_line or _passes(plan.mobile, nsn):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not plan.same_mobile_and_fixed_line and _passes(plan.mobile, nsn):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


def _passes(check: _Check | None, nsn: str) -> bool:
    if check is None:
        return False
    _, lengths, pattern = check
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


def _zone(number_type: int, country_code: int, e164_digits: str) -> str | None:
    """time_zones_for_number for a number already classified, reduced to one zone or None."""
    if not phonenumbers.is_number_type_geographical(number_type, country_code):
        return _country_zone(country_code)
    for size in _zone_prefix_sizes(country_code):
        zones = TIMEZONE_DATA.get(e164_digits[:size])
        if zones is not None:
            return _single(zones)
    return None


@cache
def _zone_prefix_sizes(country_code: int) -> tuple[int, ...]:
    """The lengths, longest first, of the time-zone prefixes that can match a number with this
    country code (those that extend the code or are part of it): the lookup skips the others."""
    code = str(country_code)
    sizes = {
        len(prefix)
        for prefix in TIMEZONE_DATA
        if prefix.startswith(code) or code.startswith(prefix)
    }
    return tuple(sorted(sizes, reverse=True))


@cache
def _country_zone(country_code: int) -> str | None:
    """_country_level_time_zones_for_number, quirks included: it looks up prefixes of the code."""
    code = str(country_code)
    for size in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        zones = TIMEZONE_DATA.get(code[: size + 1])
        if zones is not None:
            return _single(zones)
    return None


def _single(zones: tuple[str, ...]) -> str | None:
    return zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else None


@cache
def _country_plans(country_code: int) -> tuple[_Plan, ...]:
    """The plans of the regions sharing a country code, main region first."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    if regions == (phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY,):
        return (_plan(PhoneMetadata.metadata_for_nongeo_region(country_code)),)
    return tuple(_region_plan(region) for region in regions)


@cache
def _region_plan(region: str) -> _Plan:
    return _plan(PhoneMetadata.metadata_for_region(region))


def _plan(metadata: Any) -> _Plan:
    """Compile one region's metadata (Any: the stubs make every field optional; none is here)."""
    general = metadata.general_desc
    checks = tuple(
        check
        for number_type, desc in (
            (PhoneNumberType.PREMIUM_RATE, metadata.premium_rate),
            (PhoneNumberType.TOLL_FREE, metadata.toll_free),
            (PhoneNumberType.SHARED_COST, metadata.shared_cost),
            (PhoneNumberType.VOIP, metadata.voip),
            (PhoneNumberType.PERSONAL_NUMBER, metadata.personal_number),
            (PhoneNumberType.PAGER, metadata.pager),
            (PhoneNumberType.UAN, metadata.uan),
            (PhoneNumberType.VOICEMAIL, metadata.voicemail),
        )
        if (check := _check(number_type, desc)) is not None
    )
    return _Plan(
        country_code=metadata.country_code,
        general=_compile(general.national_number_pattern),
        lengths=tuple(general.possible_length),
        local_lengths=frozenset(general.possible_length_local_only),
        national_prefix=_compile(metadata.national_prefix_for_parsing),
        transform_rule=metadata.national_prefix_transform_rule or None,
        international_prefix=_compile(metadata.international_prefix),
        leading_digits=_compile(metadata.leading_digits),
        checks=checks,
        # Most numbers are none of these types: one match rules them all out.
        any_check=_compile("|".join(f"(?:{pattern.pattern})" for _, _, pattern in checks)),
        fixed_line=_check(PhoneNumberType.FIXED_LINE, metadata.fixed_line),
        mobile=_check(PhoneNumberType.MOBILE, metadata.mobile),
        same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
    )


def _check(number_type: int, desc: PhoneNumberDesc | None) -> _Check | None:
    """_is_number_matching_desc, prepared: None when the description can never match."""
    if desc is None:
        return None
    pattern = _compile(desc.national_number_pattern)
    if pattern is None:
        return None
    return number_type, frozenset(desc.possible_length), pattern


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None
