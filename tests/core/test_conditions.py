"""Stage-condition value objects (core/conditions.py): DeploymentWindow cron and time zone, AlarmBake, OnFailure."""

from __future__ import annotations

import re
import zoneinfo

import aws_cdk as cdk
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.core.conditions import (
    MAX_WAIT_MINUTES,
    AlarmBake,
    DeploymentWindow,
    OnFailure,
    require_time_zone,
)
from pipeline_constructs.core.private.cron import parse_window_cron

# -- DeploymentWindow.cron ----------------------------------------------------------------------------

_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    """A valid cron field over [low, high]: '*', a value, a range, a list or an increment."""
    value = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda p: f"{min(p)}-{max(p)}")
    step = st.tuples(st.integers(low, high), st.integers(1, high)).map(lambda p: f"{p[0]}/{p[1]}")
    listed = st.lists(value, min_size=2, max_size=3).map(",".join)
    return st.one_of(st.just("*"), value, ranged, step, listed)


@st.composite
def window_crons(draw: st.DrawFn) -> str:
    minutes, hours, month = draw(_field(0, 59)), draw(_field(0, 23)), draw(_field(1, 12))
    dom_first = draw(st.booleans())
    dom = draw(_field(1, 31)) if dom_first else "?"
    dow = "?" if dom_first else draw(st.one_of(_field(1, 7), st.sampled_from(["MON-FRI", "SAT,SUN", "6#3", "6L"])))
    year = draw(st.one_of(st.just(""), st.just(" *"), st.integers(1970, 2199).map(lambda y: f" {y}")))
    return f"* {minutes} {hours} {dom} {month} {dow}{year}"


@given(window_crons())
def test_any_valid_window_cron_is_accepted(cron):
    assert DeploymentWindow(cron=cron).cron == cron
    assert parse_window_cron(cron)[0] == "*"


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 * 9-16 ? * MON-FRI", "the seconds field must be '\\*', got '0'"),
        ("* 9-16 ? * MON-FRI", "expected six fields .* got 5"),
        ("* * 9-16 ? * MON-FRI * *", "got 8"),
        ("cron(* * 9-16 ? * MON-FRI)", "without 'cron\\(...\\)'"),
        ("* * 9-16  ? * MON-FRI", "single spaces"),
        ("* * 24 ? * MON-FRI", "hours field '24' is invalid: expected values from 0 to 23"),
        ("* 60 9 ? * MON", "minutes field '60'"),
        ("* * 9 * * MON", "exactly one of day-of-month and day-of-week must be '\\?'"),
        ("* * 9 ? * ?", "exactly one of day-of-month and day-of-week"),
        ("* ? 9 1 * ?", "'\\?' is allowed only in day-of-month or day-of-week, not in minutes"),
        ("* * 9 ? * MON 1969", "year field '1969'"),
        ("* * 9 ? JAN-XYZ MON", "month field 'JAN-XYZ'"),
    ],
)
def test_an_invalid_window_cron_names_the_field(cron, why):
    with pytest.raises(
        ValueError, match=rf"^DeploymentWindow: cron = .* is invalid: expected a DeploymentWindow cron .*{why}"
    ):
        DeploymentWindow(cron=cron)


@given(window_crons(), st.sampled_from(["0", "5", "0/15", "1-2", "?", "L"]))
def test_the_seconds_field_is_only_ever_a_star(cron, seconds):
    with pytest.raises(ValueError, match="seconds field must be"):
        DeploymentWindow(cron=seconds + cron[1:])


@pytest.mark.parametrize("bad", [None, 7, ""])
def test_a_cron_of_the_wrong_type_or_empty_is_rejected(bad):
    with pytest.raises((TypeError, ValueError), match=r"DeploymentWindow: cron = "):
        DeploymentWindow(cron=bad)


@given(st.integers(0, 23), st.integers(1, 24))
def test_weekdays_builds_a_valid_window_or_names_the_bad_hour(start, end):
    if end <= start:
        with pytest.raises(
            ValueError, match=rf"DeploymentWindow.weekdays: end_hour = {end} is invalid: expected an hour after {start}"
        ):
            DeploymentWindow.weekdays(start_hour=start, end_hour=end)
        return
    window = DeploymentWindow.weekdays(start_hour=start, end_hour=end, time_zone="Europe/Berlin")
    fields = parse_window_cron(window.cron)
    assert fields[2] == (str(start) if end - start == 1 else f"{start}-{end - 1}")
    assert fields[5] == "MON-FRI"
    assert window.time_zone == "Europe/Berlin"


# -- DeploymentWindow.time_zone -----------------------------------------------------------------------

_REGION_CITY = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


@given(st.sampled_from(_REGION_CITY))
def test_any_iana_region_city_zone_is_accepted(zone):
    assert DeploymentWindow(cron="* * 9 ? * MON", time_zone=zone).time_zone == zone


@pytest.mark.parametrize("zone", ["UTC", "UTC+05:30", "UTC-03:00", "UTC+14:00"])
def test_utc_and_utc_offsets_are_accepted(zone):
    assert require_time_zone("W", "time_zone", zone) == zone


@pytest.mark.parametrize(
    "zone", ["CST", "EST", "PST", "Etc/GMT+5", "Europe/Atlantis", "europe/berlin", "UTC+15:00", "UTC+5:30", "Z"]
)
def test_ambiguous_abbreviations_and_unknown_zones_are_rejected(zone):
    with pytest.raises(
        ValueError,
        match=rf"^DeploymentWindow: time_zone = {re.escape(repr(zone))} is invalid: expected an IANA time zone such "
        "as 'Europe/Berlin'",
    ):
        DeploymentWindow(cron="* * 9 ? * MON", time_zone=zone)


@given(st.text(max_size=20).filter(lambda z: z not in zoneinfo.available_timezones() and not z.startswith("UTC")))
def test_arbitrary_text_is_not_a_time_zone(zone):
    with pytest.raises((TypeError, ValueError), match="time_zone"):
        DeploymentWindow(cron="* * 9 ? * MON", time_zone=zone)


# -- AlarmBake ----------------------------------------------------------------------------------------


def test_bake_defaults_watch_alarm_state_for_thirty_minutes():
    bake = AlarmBake(alarm_names=("errors",))
    assert bake.states == ("ALARM",)
    assert bake.wait_minutes == 30


@given(st.integers(1, MAX_WAIT_MINUTES))
def test_any_whole_minute_wait_up_to_a_day_is_accepted(minutes):
    assert AlarmBake(alarm_names=("a",), wait=cdk.Duration.minutes(minutes)).wait_minutes == minutes


@pytest.mark.parametrize(
    ("wait", "shown"),
    [
        (cdk.Duration.seconds(0), "0 seconds"),
        (cdk.Duration.seconds(90), "1 minute 30 seconds"),
        (cdk.Duration.minutes(MAX_WAIT_MINUTES + 1), "1 day 1 minute"),
        (cdk.Duration.days(2), "2 days"),
    ],
)
def test_a_wait_outside_whole_minutes_from_1_to_1440_is_rejected(wait, shown):
    with pytest.raises(
        ValueError,
        match=rf"^AlarmBake: wait = '{shown}' is invalid: expected whole minutes from 1 to 1440 \(24 hours\)",
    ):
        AlarmBake(alarm_names=("a",), wait=wait)


def test_wait_must_be_a_duration():
    with pytest.raises(TypeError, match=r"AlarmBake: wait = 30 is invalid: expected an aws_cdk.Duration"):
        AlarmBake(alarm_names=("a",), wait=30)


def test_at_most_five_alarms():
    AlarmBake(alarm_names=tuple(f"a{i}" for i in range(5)))
    with pytest.raises(ValueError, match=r"AlarmBake: alarm_names = '<6 items>' is invalid: expected at most 5 items"):
        AlarmBake(alarm_names=tuple(f"a{i}" for i in range(6)))


@pytest.mark.parametrize(
    "name", ["", "x" * 256, "tab\there", "line\nbreak", "del\x7f", "any*", "one?"], ids=lambda n: repr(n)[:12]
)
def test_alarm_names_are_1_to_255_characters_without_control_or_wildcard_characters(name):
    with pytest.raises(
        ValueError, match=r"AlarmBake: alarm_names\[1\] = .* is invalid: expected a CloudWatch alarm name"
    ):
        AlarmBake(alarm_names=("ok", name))


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="*?"), min_size=1, max_size=255
    )
)
def test_any_printable_name_without_wildcards_is_an_alarm_name(name):
    assert AlarmBake(alarm_names=(name,)).alarm_names == (name,)


def test_an_alarm_name_is_not_a_bare_string():
    with pytest.raises(TypeError, match=r"alarm_names = 'errors' is invalid: .* not a single string"):
        AlarmBake(alarm_names="errors")


def test_alarms_and_states_are_given_once():
    with pytest.raises(ValueError, match=r"AlarmBake: alarm_names = 'a' is invalid: each value only once"):
        AlarmBake(alarm_names=("a", "a"))
    with pytest.raises(ValueError, match=r"AlarmBake: states = 'ALARM' is invalid: each value only once"):
        AlarmBake(alarm_names=("a",), states=("ALARM", "ALARM"))
    # alarm names are case-sensitive in CloudWatch: two alarms
    assert AlarmBake(alarm_names=("a", "A")).alarm_names == ("a", "A")


def test_states_are_cloudwatch_alarm_states():
    assert AlarmBake(alarm_names=("a",), states=("ALARM", "INSUFFICIENT_DATA")).states == ("ALARM", "INSUFFICIENT_DATA")
    with pytest.raises(ValueError, match=r"AlarmBake: states\[0\] = 'alarm' is invalid: expected one of 'ALARM', 'OK'"):
        AlarmBake(alarm_names=("a",), states=("alarm",))
    with pytest.raises(ValueError, match=r"states = \[\] is invalid: .* at least one item"):
        AlarmBake(alarm_names=("a",), states=())


# -- OnFailure ----------------------------------------------------------------------------------------


def test_rollback_and_retry():
    assert OnFailure.rollback() == OnFailure(result="ROLLBACK")
    assert OnFailure.retry() == OnFailure(result="RETRY", retry_mode="FAILED_ACTIONS")
    assert OnFailure.retry(all_actions=True).retry_mode == "ALL_ACTIONS"


def test_a_rollback_has_no_retry_mode():
    with pytest.raises(
        ValueError, match=r"OnFailure: retry_mode = 'ALL_ACTIONS' is invalid: only a RETRY has a retry mode"
    ):
        OnFailure(result="ROLLBACK", retry_mode="ALL_ACTIONS")


@pytest.mark.parametrize(
    ("prop", "kwargs"), [("result", {"result": "FAIL"}), ("retry_mode", {"result": "RETRY", "retry_mode": "SOME"})]
)
def test_results_and_modes_are_codepipelines(prop, kwargs):
    with pytest.raises(ValueError, match=rf"OnFailure: {prop} = .* is invalid: expected one of"):
        OnFailure(**kwargs)
