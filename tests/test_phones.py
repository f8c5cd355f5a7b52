"""Phone-number normalisation: a table of tricky inputs, the fast path proved equal to the
reference path (parse + is_valid_number + time zone) on generated input, and the parallel mapper.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigner.errors import ValidationError
from campaigner.phones import (
    Normalised,
    ParallelNormaliser,
    Rejected,
    check_region,
    mask,
    normalise,
    normalise_many,
)
from campaigner.phones._fast import fast_normalise
from campaigner.phones._normalise import from_compact
from campaigner.phones._parallel import WORKER_NICENESS

SF = Normalised("+14155552671", "America/Los_Angeles")
LONDON = Normalised("+442079460018", "Europe/London")
NO_REGION = Rejected("no country code and no default region (use --region)")
EXTENSION = Rejected("has an extension (123); an automated call cannot dial one")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # US notations
        ("+1 (415) 555-2671", "US", SF),
        ("415.555.2671", "US", SF),
        ("4155552671", "US", SF),
        ("1-415-555-2671", "US", SF),
        ("(415) 555-2671", "US", SF),
        ("+1 (415) 555-2671", None, SF),
        ("+1 (415) 555-2671", "GB", SF),
        ("(415) 555-2671", "CA", SF),
        # white space, Unicode digits and separators
        ("  415 555 2671\t", "US", SF),
        ("\u00a0415\u00a0555\u00a02671\u00a0", "US", SF),
        ("\uff14\uff11\uff15\uff15\uff15\uff15\uff12\uff16\uff17\uff11", "US", SF),
        ("415/555/2671", "US", SF),
        ("tel:+1-415-555-2671", "US", SF),
        ("++1 415 555 2671", "US", SF),
        # letters: vanity numbers are converted; toll free maps to every US zone
        ("+1 800 FLOWERS", "US", Normalised("+18003569377", None)),
        ("1-800-FLOWERS", "US", Normalised("+18003569377", None)),
        ("n/a", "US", Rejected("not a phone number")),
        # extensions cannot be dialled by an automated call
        ("415-555-2671 x123", "US", EXTENSION),
        ("415-555-2671 ext. 123", "US", EXTENSION),
        # missing, short, long
        ("", "US", Rejected("missing phone number")),
        ("   ", "US", Rejected("missing phone number")),
        ("+", "US", Rejected("not a phone number")),
        ("12", "US", Rejected("too short for region US")),
        ("+1 415 555 267", "US", Rejected("too short for region US")),
        ("+1 415 555 2671 5", "US", Rejected("too long for region US")),
        ("123456789012345678901", "US", Rejected("too long")),
        ("555-0100", "US", Rejected("not a valid number for region US")),
        ("+1 555 555 5555", None, Rejected("not a valid number for +1 (US)")),
        ("+44 20 7946 00189", None, Rejected("too long for +44 (GB)")),
        ("+999 1234567", "US", Rejected("unknown country code")),
        ("+001 415 555 2671", "US", Rejected("unknown country code")),
        # international prefixes: 011 from the US, 00 from most of the rest of the world
        ("+44 20 7946 0018", "US", LONDON),
        ("011 44 20 7946 0018", "US", LONDON),
        ("00 44 20 7946 0018", "GB", LONDON),
        (
            "00 44 20 7946 0018",
            "US",
            Rejected(
                "too long for region US"
                " (00 is not the international prefix in US: write + and the country code)"
            ),
        ),
        ("020 7946 0018", "GB", LONDON),
        ("+44 (0)20 7946 0018", None, LONDON),
        # a UK number written without "+" is not a US number
        ("44 20 7946 0018", "US", Rejected("too long for region US")),
        # numbers without a country code need a region
        ("4155552671", None, NO_REGION),
        ("011 44 20 7946 0018", None, NO_REGION),
        # around the world; a number of a country with several zones (AU mobile) gets none
        ("0049 30 123456", "DE", Normalised("+4930123456", "Europe/Berlin")),
        ("+33 6 12 34 56 78", None, Normalised("+33612345678", "Europe/Paris")),
        ("+91 98765 43210", None, Normalised("+919876543210", "Asia/Calcutta")),
        ("+61 412 345 678", None, Normalised("+61412345678", None)),
        ("+52 55 1234 5678", None, Normalised("+525512345678", "America/Mexico_City")),
        ("011 55 11 91234-5678", "US", Normalised("+5511912345678", "America/Sao_Paulo")),
        ("(11) 91234-5678", "BR", Normalised("+5511912345678", "America/Sao_Paulo")),
        ("011 15 2345-6789", "AR", Normalised("+5491123456789", "America/Buenos_Aires")),
        ("+39 06 6982 0000", None, Normalised("+390669820000", "Europe/Vatican")),
        ("06 6982 0000", "IT", Normalised("+390669820000", "Europe/Vatican")),
        ("+1 604 555 0123", None, Normalised("+16045550123", "America/Vancouver")),
        ("+800 1234 5678", None, Normalised("+80012345678", None)),
    ],
)
def test_normalise(raw: str, region: str | None, expected: Normalised | Rejected) -> None:
    assert normalise(raw, region) == expected
    assert normalise(raw, region, fast=False) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+1 (415) 555-2671", "US"),
        ("415.555.2671", "US"),
        ("4155552671", "US"),
        ("1-415-555-2671", "US"),
        ("+14155552671", None),
        ("011 44 20 7946 0018", "US"),
        ("+44 (0)20 7946 0018", "US"),
        ("020 7946 0018", "GB"),
        ("0049 30 123456", "DE"),
        ("+91 98765 43210", "US"),
        ("+61 412 345 678", "US"),
        ("(11) 91234-5678", "BR"),
        ("011 15 2345-6789", "AR"),
        ("+39 06 6982 0000", "US"),
        ("(415) 555-2671", "CA"),
        ("555-0100", "US"),
        ("0044 20 7946 0018", "US"),
        ("+44 20 7946 00189", "US"),
    ],
)
def test_common_shapes_take_the_fast_path(raw: str, region: str | None) -> None:
    """Guards the property tests below against a fast path that quietly always falls back."""
    found = fast_normalise(raw, region)
    assert found is not None
    assert from_compact(found) == normalise(raw, region, fast=False)


# --- the fast path gives exactly the reference path's results -------------------------------

ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
COMMON_REGIONS = [None, "US", "CA", "GB", "DE", "FR", "IT", "IN", "AU", "MX", "BR", "AR", "JP"]
PARSE_REGIONS = st.one_of(st.sampled_from(COMMON_REGIONS), st.sampled_from(ALL_REGIONS))


def _examples() -> list[tuple[int, str]]:
    """(country code, national significant number) of phonenumbers' example numbers: every type
    of every region, and the non-geographic entities (+800...)."""
    numbers = [
        phonenumbers.example_number_for_type(region, number_type)
        for region in ALL_REGIONS
        for number_type in range(11)  # every PhoneNumberType but UNKNOWN
    ] + [
        phonenumbers.example_number_for_non_geo_entity(country_code)
        for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    return sorted(
        {
            (number.country_code or 0, phonenumbers.national_significant_number(number))
            for number in numbers
            if number is not None
        }
    )


EXAMPLES = _examples()
PREFIXES = ["+{cc}", "+{cc} ", "00{cc} ", "011 {cc} ", "{cc}", "", "0", "1", "+{cc} (0)", "({cc})"]
SEPARATORS = ["", "", "", " ", "-", ".", "(", ")", " (", ") ", "/", "\u00a0", "x", "#", "+"]
DIGITS = "0123456789"


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    """A real example number, perhaps with digits changed, written the many ways people do."""
    country_code, nsn = draw(st.sampled_from(EXAMPLES))
    digits = list(nsn)
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(digits)))
        change = draw(st.sampled_from(["replace", "insert", "delete"]))
        if change == "insert" or not digits:
            digits.insert(position, draw(st.sampled_from(DIGITS)))
        elif change == "replace":
            digits[min(position, len(digits) - 1)] = draw(st.sampled_from(DIGITS))
        else:
            del digits[min(position, len(digits) - 1)]
    prefix = draw(st.sampled_from(PREFIXES)).format(cc=country_code)
    body = "".join(draw(st.sampled_from(SEPARATORS)) + digit for digit in digits)
    padding = draw(st.sampled_from(["", " ", "\t", "\u00a0"]))
    return padding + prefix + body + padding


LOOSE_TEXT = st.text(alphabet="0123456789+ -().x#/,;*\u00a0\uff11\uff12ext", max_size=25)
SETTINGS = settings(
    max_examples=600,
    deadline=None,
    # The only function-scoped fixture is conftest's autouse one that clears the environment.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(raw=written_numbers(), region=PARSE_REGIONS)
def test_fast_path_equals_reference_on_written_numbers(raw: str, region: str | None) -> None:
    result = normalise(raw, region)
    assert result == normalise(raw, region, fast=False)
    if isinstance(result, Normalised):  # and E.164 is a fixed point
        assert normalise(result.e164, None) == result


@SETTINGS
@given(raw=LOOSE_TEXT, region=PARSE_REGIONS)
def test_fast_path_equals_reference_on_loose_text(raw: str, region: str | None) -> None:
    assert normalise(raw, region) == normalise(raw, region, fast=False)


# --- many, and in parallel ------------------------------------------------------------------

MIXED = ["+1 (415) 555-2671", "", "020 7946 0018", "+44 20 7946 0018", "x", "011 49 30 123456"]


def test_normalise_many_keeps_order() -> None:
    assert normalise_many(MIXED, "US") == [normalise(raw, "US") for raw in MIXED]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("UK", "region 'UK' is not an ISO 3166 alpha-2 region code (the United Kingdom is GB)"),
        ("USA", "region 'USA' is not an ISO 3166 alpha-2 region code (e.g. US, GB, DE)"),
        ("", "region '' is not an ISO 3166 alpha-2 region code (e.g. US, GB, DE)"),
    ],
)
def test_unknown_region_is_refused(region: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalise("020 7946 0018", region)
    assert str(refused.value) == message
    with pytest.raises(ValidationError):
        ParallelNormaliser(region)


@pytest.mark.parametrize(("region", "checked"), [("GB", "GB"), ("gb", "GB"), (" us ", "US")])
def test_region_case_does_not_matter(region: str, checked: str) -> None:
    assert check_region(region) == checked
    assert normalise("020 7946 0018", region) == normalise("020 7946 0018", checked)


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="workers must be at least 1, not 0"):
        ParallelNormaliser("US", workers=0)


class EagerNormaliser(ParallelNormaliser):
    """Starts its workers for more than 10 numbers, so that tests need not make 20,000."""

    IN_PROCESS_NUMBERS = 10


def _batches(count: int, pulled: list[int] | None = None) -> Iterator[tuple[int, Sequence[str]]]:
    """Batches of 6 numbers, with their index as payload."""
    for index in range(count):
        if pulled is not None:
            pulled.append(index)
        yield index, [raw + str(index % 10) * (index % 2) for raw in MIXED]


@pytest.mark.parametrize(("workers", "batches"), [(2, 0), (2, 1), (1, 12)])
def test_small_inputs_and_one_worker_stay_in_process(workers: int, batches: int) -> None:
    with EagerNormaliser("US", workers=workers) as normaliser:
        results = list(normaliser.map_batches(_batches(batches)))
        assert not normaliser.started
    assert results == [(index, normalise_many(raws, "US")) for index, raws in _batches(batches)]


def test_workers_return_results_in_order_with_bounded_batches_in_flight() -> None:
    pulled: list[int] = []
    with EagerNormaliser("US", workers=2) as normaliser:
        results = normaliser.map_batches(_batches(30, pulled))
        first = next(results)
        pulled_before_first_result = len(pulled)
        rest = list(results)
        started = normaliser.started
    assert (started, normaliser.started) == (True, False)
    assert pulled_before_first_result <= 2 + 1  # one batch per worker and one more
    assert [first, *rest] == [(index, normalise_many(raws, "US")) for index, raws in _batches(30)]


def test_workers_run_at_a_lower_priority_than_the_caller() -> None:
    with EagerNormaliser("US", workers=1) as normaliser:
        niceness = normaliser._start_pool().submit(os.nice, 0).result()
    assert niceness == min(19, os.nice(0) + WORKER_NICENESS)


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+14155552671", "+1415***2671"),
        ("+442079460018", "+4420***0018"),
        ("+5511912345678", "+5511***5678"),
        ("+4930123456", "+4930***56"),
        ("+8001234", "+80***34"),
        ("+12345", "+12***"),
        ("", "***"),
    ],
)
def test_mask_never_shows_every_digit(e164: str, masked: str) -> None:
    assert mask(e164) == masked
