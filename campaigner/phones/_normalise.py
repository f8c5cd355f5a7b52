"""Normalising one number, or many in this process: the fast path first, the reference after.

The reference path is the definition: `phonenumbers.parse` with the default region,
`is_valid_number`, the E.164 format and `time_zones_for_number`. The fast path (`_fast`) gives the
same answer for the common shapes in a fraction of the time and hands everything else to the
reference path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers.timezone import time_zones_for_number

from ..errors import ValidationError
from . import _reasons as reasons
from ._fast import fast_normalise

_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class Normalised:
    e164: str  # "+14155552671"
    timezone: str | None  # the one IANA zone the number maps to; None if it maps to none or several


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # for a human: "not a valid number for region US", "missing phone number"...


Result = Normalised | Rejected

# Results cross process boundaries in a compact form: an (e164, zone) tuple or a reason string.
Compact = tuple[str, str | None] | str


def check_region(region: str | None) -> str | None:
    """The region in upper case if phonenumbers knows it, else ValidationError saying why."""
    if region is None:
        return None
    code = region.strip().upper()
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    hint = " (the United Kingdom is GB)" if code == "UK" else " (e.g. US, GB, DE)"
    raise ValidationError(f"region {region!r} is not an ISO 3166 alpha-2 region code{hint}")


def normalise(raw: str, region: str | None, *, fast: bool = True) -> Result:
    """One number in E.164 with its time zone, or the reason it is not acceptable.

    `region` is used for numbers written without a country code. `fast=False` skips the fast path
    (for comparing the two; the results are the same).
    """
    return from_compact(normalise_compact(raw, check_region(region), fast))


def normalise_many(raws: Sequence[str], region: str | None, *, fast: bool = True) -> list[Result]:
    """`normalise` for each number, in order."""
    return rebuild(normalise_batch(raws, check_region(region), fast))


def mask(e164: str) -> str:
    """The number for logs ("+1415***2671"): at least three digits are always hidden, and the
    shorter the number, the fewer digits are shown."""
    plus = "+" if e164.startswith("+") else ""
    digits = e164[len(plus) :]
    tail = 4 if len(digits) >= 11 else 2 if len(digits) >= 7 else 0
    head = max(0, min(4, len(digits) - tail - 3))
    return f"{plus}{digits[:head]}***{digits[len(digits) - tail :]}"


def from_compact(compact: Compact) -> Result:
    if isinstance(compact, str):
        return Rejected(compact)
    return Normalised(*compact)


def rebuild(compacts: list[Compact]) -> list[Result]:
    return [from_compact(compact) for compact in compacts]


def normalise_batch(raws: Sequence[str], region: str | None, fast: bool = True) -> list[Compact]:
    """Compact results for a batch; `region` must already be checked."""
    return [normalise_compact(raw, region, fast) for raw in raws]


def normalise_compact(raw: str, region: str | None, fast: bool = True) -> Compact:
    text = raw.strip()
    if fast:
        found = fast_normalise(text, region)
        if found is not None:
            return found
    return _reference(text, region)


@lru_cache(maxsize=4096)
def _reference(text: str, region: str | None) -> Compact:
    """The reference path, cached: common shapes never come here, and the odd text that does
    repeats ("n/a", "unknown", the same vanity number) and costs five times a fast answer."""
    if not text:
        return reasons.MISSING
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return reasons.parse_failure(exc, text, region)
    if number.extension:
        return reasons.extension(number)
    if not phonenumbers.is_valid_number(number):
        return reasons.invalid(number, text, region)
    e164: str = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, _single_zone(number)


def _single_zone(number: phonenumbers.PhoneNumber) -> str | None:
    zones = time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        zone: str = zones[0]
        return zone
    return None
