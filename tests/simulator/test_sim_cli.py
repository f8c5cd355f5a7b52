"""`campaigner simulate`: its options become the simulator's configuration."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from campaigner.cli import main
from campaigner.cli.simulate import build_config, simulate_command
from campaigner.model import Outcome
from campaigner.simulator import Span


def options(*args: str) -> dict[str, Any]:
    with simulate_command.make_context("simulate", list(args)) as context:
        return dict(context.params)


def test_defaults_are_the_documented_demo() -> None:
    config = build_config(options())
    assert config.credentials.enablex_app_id == "sim-enablex-app"
    assert config.credentials.fractel_token == "sim-fractel-token"
    assert config.caller_ids == {"+13215550100", "+13215550101"}
    assert config.timing.answer_latency == Span(0.2, 0.2)
    assert config.timing.ring_delay == Span(2.0, 8.0)
    assert config.behaviour.variants is True
    assert (
        config.behaviour.mix.describe()
        == "delivered=60,busy=10,no_answer=15,failed=10,invalid_number=5"
    )
    assert config.faults.cps_cap is None
    assert config.webhooks.retries == 3
    assert config.webhooks.connections_per_host == 256


def test_options_reach_the_configuration() -> None:
    config = build_config(
        options(
            "--seed",
            "9",
            "--plain",
            "--mix",
            "busy=1",
            "--script",
            "+14155550100=busy,delivered",
            "--ring-delay",
            "0",
            "--answer-latency",
            "0.1-0.3",
            "--cps-cap",
            "50",
            "--hang-rate",
            "0.1",
            "--hang-drops-call",
            "--reorder-rate",
            "0.5",
            "--webhook-user",
            "u",
            "--webhook-password",
            "p",
            "--caller-id",
            "+13215550199",
            "--fractel-token",
            "t",
            "--webhook-connections",
            "8",
        )
    )
    assert (
        config.behaviour.seed,
        config.behaviour.variants,
        config.behaviour.quirky_timestamps,
    ) == (9, False, 0.0)
    assert config.behaviour.scripts == {"+14155550100": (Outcome.BUSY, Outcome.DELIVERED)}
    assert config.timing.answer_latency == Span(0.1, 0.3)
    assert (config.faults.cps_cap, config.faults.hang_rate, config.faults.hang_places_call) == (
        50,
        0.1,
        False,
    )
    assert config.faults.reorder_rate == 0.5
    assert config.webhooks.basic_auth == ("u", "p")
    assert config.caller_ids == {"+13215550199"}
    assert config.credentials.fractel_token == "t"
    assert config.webhooks.connections_per_host == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mix", "delivered"], "name=weight"),
        (["--ring-delay", "soon"], "must be seconds"),
        (["--script", "4155550100=busy"], "must look like"),
        (["--caller-id", "3215550100"], "must be E.164"),
        (["--hang-rate", "2"], "0<=x<=1"),
    ],
)
def test_bad_options_stop_before_serving(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output
