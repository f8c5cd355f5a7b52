"""Fault decisions on dial requests and on webhooks: pure, with synthetic times."""

from __future__ import annotations

import random

import pytest

from campaigner.errors import ValidationError
from campaigner.simulator import FaultInjector, FaultPlan, Span
from campaigner.simulator.calls import Step
from campaigner.simulator.faults import Verdict, WebhookFaults


def verdicts(injector: FaultInjector, times: list[float]) -> list[Verdict]:
    return [injector.on_dial(t).verdict for t in times]


def test_no_faults_admits_everything() -> None:
    assert set(verdicts(FaultInjector(FaultPlan()), [0.0] * 100)) == {Verdict.ADMIT}


@pytest.mark.parametrize(
    ("cap", "times", "expected"),
    [
        (2, [0.0, 0.1, 0.2], "AAR"),
        (2, [0.0, 0.5, 0.99, 1.0, 1.2], "AARAR"),  # the window is [t-1, t): 0.0 leaves at 1.0
        (1, [0.0, 0.5, 1.5, 1.6], "ARAR"),  # a refused request does not count
        (3, [0.0, 0.0, 0.0, 0.0], "AAAR"),
    ],
)
def test_cps_cap_is_a_sliding_second(cap: float, times: list[float], expected: str) -> None:
    injector = FaultInjector(FaultPlan(cps_cap=cap))
    letters = {Verdict.ADMIT: "A", Verdict.RATE_LIMITED: "R"}
    assert "".join(letters[v] for v in verdicts(injector, times)) == expected


def test_fail_next_and_hang_next() -> None:
    injector = FaultInjector(FaultPlan())
    injector.fail_next(2, status=502)
    injector.hang_next(1, places_call=False)
    decisions = [injector.on_dial(float(t)) for t in range(4)]
    assert [d.verdict for d in decisions] == [
        Verdict.SERVER_ERROR,
        Verdict.SERVER_ERROR,
        Verdict.HANG,
        Verdict.ADMIT,
    ]
    assert decisions[0].status == 502
    assert decisions[2].places_call is False


def test_error_rate_starts_bursts_of_the_configured_length() -> None:
    injector = FaultInjector(FaultPlan(error_rate=1.0, error_burst=3, error_status=500))
    decisions = [injector.on_dial(0.0) for _ in range(6)]
    assert {d.verdict for d in decisions} == {Verdict.SERVER_ERROR}
    assert {d.status for d in decisions} == {500}


def test_hang_rate_and_reset_replays_the_same_decisions() -> None:
    injector = FaultInjector(FaultPlan(hang_rate=0.3, hang_places_call=False), seed=5)
    first = verdicts(injector, [0.0] * 50)
    injector.reset()
    assert verdicts(injector, [0.0] * 50) == first
    assert Verdict.HANG in first
    assert Verdict.ADMIT in first


@pytest.mark.parametrize(
    "plan",
    [
        {"error_rate": 1.5},
        {"hang_rate": -0.1},
        {"cps_cap": 0},
        {"error_burst": 0},
        {"error_status": 404},
    ],
)
def test_bad_plans(plan: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        FaultPlan(**plan)  # type: ignore[arg-type]


STEPS = [Step(0.0, "a", {}), Step(0.0, "b", {}), Step(1.0, "c", {}), Step(2.0, "d", {})]


def names(faults: WebhookFaults) -> list[str]:
    return [("+" if t.duplicate else "") + t.step.event for t in faults.schedule(STEPS)]


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (WebhookFaults(), ["a", "b", "c", "d"]),
        (WebhookFaults(duplicated=frozenset({1})), ["a", "b", "+b", "c", "d"]),
        (WebhookFaults(delays={0: 1.5}), ["b", "c", "a", "d"]),
        (WebhookFaults(order=(3, 2, 1, 0)), ["d", "c", "b", "a"]),
        (WebhookFaults(order=(1, 0, 2, 3), delays={1: 5.0}), ["a", "c", "d", "b"]),
    ],
)
def test_schedule(faults: WebhookFaults, expected: list[str]) -> None:
    assert names(faults) == expected


def test_drawn_reordering_always_changes_the_order() -> None:
    plan = FaultPlan(reorder_rate=1.0)
    for seed in range(30):
        faults = WebhookFaults.draw(plan, random.Random(seed), 2)
        assert faults.order == (1, 0)


def test_drawn_faults_follow_their_rates() -> None:
    plan = FaultPlan(duplicate_rate=1.0, delay_rate=1.0, delay=Span(2.0, 2.0))
    faults = WebhookFaults.draw(plan, random.Random(1), 3)
    assert faults.duplicated == {0, 1, 2}
    assert faults.delays == {0: 2.0, 1: 2.0, 2: 2.0}
    assert faults.order is None
    assert WebhookFaults.draw(FaultPlan(), random.Random(1), 3) == WebhookFaults()
