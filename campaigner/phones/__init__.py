"""Phone numbers: normalised to E.164, validated, and given the one time zone they map to.

Every number is checked as phonenumbers defines it: `parse` with the default region (for numbers
written without a country code), `is_valid_number` (not just "possible"), and
`phonenumbers.timezone.time_zones_for_number`, reduced to one zone or None when the number maps to
none or to several. A number with an extension is rejected: an automated call cannot dial one, and
dropping it would call a switchboard instead of the person.

- `normalise` / `normalise_many`: in this process;
- `ParallelNormaliser`: large imports, batches spread over worker processes (results as `Result`s,
  or in the `Compact` form they cross processes in);
- `mask`: a number as logs may show it.

A fast path (`_fast`) computes the same result for common shapes several times faster; see there.
"""

from ._normalise import (
    Compact,
    Normalised,
    Rejected,
    Result,
    check_region,
    mask,
    normalise,
    normalise_many,
)
from ._parallel import ParallelNormaliser

__all__ = [
    "Compact",
    "Normalised",
    "ParallelNormaliser",
    "Rejected",
    "Result",
    "check_region",
    "mask",
    "normalise",
    "normalise_many",
]
