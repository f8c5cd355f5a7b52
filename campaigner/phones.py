"""Phone numbers: normalise to E.164, validate, and find the one time zone a number maps to.

Every number goes through phonenumbers' `parse` (with the default region, for numbers written
without a country code) and `is_valid_number`; the time zone comes from
`phonenumbers.timezone.time_zones_for_number`. A number with an extension is rejected: an automated
call cannot dial one, and dropping it would call a switchboard instead of the person.

`ParallelNormaliser` spreads large imports over worker processes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from types import TracebackType
from typing import TypeVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from phonenumbers.timezone import time_zones_for_number

from .errors import ValidationError

T = TypeVar("T")

_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class Normalised:
    e164: str  # "+14155552671"
    timezone: str | None  # the one IANA zone the number maps to; None if it maps to none or several


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # for a human: "not a valid number for region US", "missing phone number"...


Result = Normalised | Rejected


def check_region(region: str | None) -> str | None:
    """The region as phonenumbers knows it, or ValidationError naming the problem."""
    if region is None or region in phonenumbers.SUPPORTED_REGIONS:
        return region
    raise ValidationError(
        f"region {region!r} is not a known ISO 3166 alpha-2 region code (e.g. US, GB, DE)"
    )


def normalise(raw: str, region: str | None) -> Result:
    """One number in E.164 with its time zone, or the reason it is not acceptable."""
    return _from_compact(_normalise_compact(raw, check_region(region)))


def normalise_many(raws: Sequence[str], region: str | None) -> list[Result]:
    """`normalise` for each number, in order."""
    return _rebuild(_normalise_batch(raws, check_region(region)))


def mask(e164: str) -> str:
    """The number for logs: country code and first digits, then the last four ("+1415***2671")."""
    if len(e164) <= 8:
        return e164[:2] + "***"
    return f"{e164[:5]}***{e164[-4:]}"


# Results cross process boundaries in a compact form: a (e164, zone) tuple or a reason string.
_Compact = tuple[str, str | None] | str


def _from_compact(compact: _Compact) -> Result:
    if isinstance(compact, str):
        return Rejected(compact)
    return Normalised(*compact)


def _rebuild(compacts: list[_Compact]) -> list[Result]:
    return [_from_compact(compact) for compact in compacts]


def _normalise_batch(raws: Sequence[str], region: str | None) -> list[_Compact]:
    return [_normalise_compact(raw, region) for raw in raws]


def _normalise_compact(raw: str, region: str | None) -> _Compact:
    text = raw.strip()
    if not text:
        return "missing phone number"
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return _parse_failure(exc, text, region)
    if number.extension:
        return f"has an extension ({number.extension}); an automated call cannot dial one"
    if not phonenumbers.is_valid_number(number):
        return _invalid_reason(number, region)
    e164: str = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, _single_zone(number)


def _parse_failure(exc: NumberParseException, text: str, region: str | None) -> str:
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


def _invalid_reason(number: phonenumbers.PhoneNumber, region: str | None) -> str:
    code = number.country_code or 0
    country = phonenumbers.region_code_for_country_code(code)
    where = f"region {country}" if country == region else f"+{code} ({country})"
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        return f"too short for {where}"
    if possible == ValidationResult.TOO_LONG:
        return f"too long for {where}"
    return f"not a valid number for {where}"


def _single_zone(number: phonenumbers.PhoneNumber) -> str | None:
    zones = time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        zone: str = zones[0]
        return zone
    return None


# --- parallel ---------------------------------------------------------------------------------

_worker_region: str | None = None


def _init_worker(region: str | None) -> None:
    global _worker_region
    _worker_region = region
    _normalise_compact("+14155552671", region)  # load metadata once, not in the first batch


def _work(raws: Sequence[str]) -> list[_Compact]:
    return _normalise_batch(raws, _worker_region)


class ParallelNormaliser:
    """Normalises batches of numbers in worker processes, in order, with few batches in flight.

    The pool starts only once there are more than `_IN_PROCESS_BATCHES` batches: a small file does
    not pay for starting processes. `workers=1` normalises in the calling process.
    """

    _IN_PROCESS_BATCHES = 2

    def __init__(self, region: str | None, *, workers: int | None = None) -> None:
        self.region = check_region(region)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        if self.workers < 1:
            raise ValidationError(f"workers must be at least 1, not {self.workers}")
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParallelNormaliser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map_batches(
        self, batches: Iterable[tuple[T, Sequence[str]]]
    ) -> Iterator[tuple[T, list[Result]]]:
        """Each batch's payload with the results for its numbers, in the order given."""
        batches = iter(batches)
        first = list(islice(batches, self._IN_PROCESS_BATCHES + 1))
        if self.workers == 1 or len(first) <= self._IN_PROCESS_BATCHES:
            for payload, raws in chain(first, batches):
                yield payload, normalise_many(raws, self.region)
            return
        pool = self._start_pool()
        in_flight: deque[tuple[T, Future[list[_Compact]]]] = deque()
        limit = 2 * self.workers
        for payload, raws in chain(first, batches):
            in_flight.append((payload, pool.submit(_work, list(raws))))
            if len(in_flight) >= limit:
                done_payload, future = in_flight.popleft()
                yield done_payload, _rebuild(future.result())
        while in_flight:
            done_payload, future = in_flight.popleft()
            yield done_payload, _rebuild(future.result())

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_init_worker, initargs=(self.region,)
            )
        return self._pool
