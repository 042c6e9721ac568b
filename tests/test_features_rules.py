"""Feature definitions (SPEC section 4) and the seed system's mistakes, each checked through both paths."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from feature_checks import both_paths
from leadml.features.inputs import ActivityInput, LeadInput

AS_OF = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)  # a Wednesday


def lead(**kwargs) -> LeadInput:
    kwargs.setdefault("created_at", AS_OF - timedelta(days=30))
    return LeadInput(**kwargs)


def act(kind: str, ago: timedelta, direction: str | None = None) -> ActivityInput:
    if direction is None:
        return (
            ActivityInput(kind, AS_OF - ago) if kind != "email_sent" else ActivityInput(kind, AS_OF - ago, "outbound")
        )
    return ActivityInput(kind, AS_OF - ago, direction)


def features(lead_input: LeadInput, activities=(), **kwargs):
    return both_paths(lead_input, list(activities), as_of=kwargs.pop("as_of", AS_OF), **kwargs)


@pytest.mark.parametrize(
    ("title", "seniority"),
    [
        ("Vice President of Sales", "vp"),
        ("Vice-President, Marketing", "vp"),
        ("SVP Engineering", "vp"),
        ("VP Sales", "vp"),
        ("President", "c_level"),
        ("President & CEO", "c_level"),
        ("Chief Revenue Officer", "c_level"),
        ("Co-Founder", "c_level"),
        ("cofounder", "c_level"),
        ("CTO", "c_level"),
        ("Director of IT", "director"),
        ("Head of Growth", "director"),
        ("Sales Manager", "manager"),
        ("Team Lead, Support", "manager"),
        ("Supervisor", "manager"),
        ("Software Engineer", "individual"),
        ("Vice Principal", "individual"),
        ("   ", "unknown"),
        (None, "unknown"),
    ],
)
def test_title_seniority(title, seniority):
    assert features(lead(title=title))["titleSeniority"] == seniority


@pytest.mark.parametrize(
    ("email", "domain_type"),
    [
        ("a@gmail.com", "free"),
        ("a@yahoo.co.uk", "free"),
        ("a@hotmail.fr", "free"),
        ("a@outlook.com.br", "free"),
        ("a@GMX.DE", "free"),
        ("a@protonmail.com", "free"),
        ("a@mail.com", "free"),
        ("a@mit.edu", "edu"),
        ("a@ox.ac.uk", "edu"),
        ("a@unimelb.edu.au", "edu"),
        ("a@state.gov", "government"),
        ("a@service.gov.uk", "government"),
        ("a@acme.com", "corporate"),
        ("a@gmail.acme.com", "corporate"),
        ("not-an-address", "unknown"),
        ("a@localhost", "unknown"),
        (None, "unknown"),
    ],
)
def test_email_domain_type(email, domain_type):
    assert features(lead(email=email))["emailDomainType"] == domain_type


@pytest.mark.parametrize(
    ("company", "email", "attributes", "size"),
    [
        ("Acme Inc.", "a@acme.com", {}, "mid_market"),
        ("Acme Corp.", "a@acme.com", {}, "mid_market"),
        ("ACME, INC", "a@acme.com", {}, "mid_market"),
        ("Acme GmbH", "a@acme.de", {}, "mid_market"),
        ("Acme Holdings", "a@acme.com", {}, "enterprise"),
        ("Acme Group plc", "a@acme.co.uk", {}, "enterprise"),
        ("Acme LLC", "a@acme.com", {}, "smb"),
        ("Acme Pty. Ltd.", "a@acme.com.au", {}, "smb"),
        ("Acme Inc.", "a@acme.io", {}, "startup"),
        ("Acme", "a@gmail.com", {}, "smb"),
        ("Acme", "a@acme.com", {}, "unknown"),
        (None, "a@gmail.com", {}, "unknown"),
        ("Acme LLC", "a@acme.com", {"employees": 5000}, "enterprise"),
        ("Acme", "a@acme.com", {"employeeCount": "51-200"}, "smb"),
        ("Acme", "a@acme.com", {"Employee Count": "201-500"}, "mid_market"),
        ("Acme", "a@acme.com", {"numberOfEmployees": "10k+"}, "enterprise"),
        ("Acme", "a@acme.com", {"company_size": "1-10"}, "startup"),
        ("Acme", "a@acme.com", {"COMPANY_SIZE": "Mid-Market"}, "mid_market"),
        ("Acme Holdings", "a@acme.com", {"employees": "n/a"}, "enterprise"),
    ],
)
def test_company_size_estimate(company, email, attributes, size):
    assert features(lead(company=company, email=email, attributes=attributes))["companySizeEstimate"] == size


def test_presence_flags_are_trimmed():
    got = features(lead(company="  ", title="CEO", phone=" +1 555 0100 "))
    assert (got["hasCompany"], got["hasTitle"], got["hasPhone"]) == (False, True, True)


def test_outbound_email_sent_is_not_engagement():
    sent = [act("email_sent", timedelta(days=d)) for d in (1, 2, 3)]
    got = features(lead(), sent)
    assert got["totalActivities"] == 0
    assert got["activityVelocity"] == 0.0
    assert got["channelDiversity"] == 0
    assert got["daysSinceLastActivity"] is None
    assert got["recencyScore"] == 0.0
    assert got["activityBurst"] is False  # three sends within 24 h are not a burst of engagement
    assert got["emailSentCount"] == 3
    assert got["emailOpenRate"] == 0.0


def test_a_reply_recorded_as_inbound_email_counts():
    got = features(lead(), [act("email_sent", timedelta(days=2), "inbound")])
    assert got["totalActivities"] == 1 and got["channelDiversity"] == 1 and got["emailSentCount"] == 0


def test_no_activity_means_no_recency():
    got = features(lead(created_at=AS_OF - timedelta(days=90)))
    assert got["daysSinceLastActivity"] is None  # not the lead's age
    assert got["recencyScore"] == 0.0
    assert got["daysSinceCreated"] == 90.0
    assert got["dayPattern"] == got["timePattern"] == "none"
    assert got["avgResponseTime"] is None and got["emailOpenRate"] is None


def test_channel_diversity_counts_channels_not_type_strings():
    email_only = [act("email_open", timedelta(hours=h)) for h in (5, 6, 7)] + [act("email_click", timedelta(hours=4))]
    assert features(lead(), email_only)["channelDiversity"] == 1
    mixed = email_only + [
        act("page_view", timedelta(hours=3)),
        act("webinar", timedelta(hours=2)),
        act("Form_Submit", timedelta(hours=1)),
    ]
    got = features(lead(), mixed)
    assert got["channelDiversity"] == 3  # email, web, form; the unknown "webinar" is no channel
    assert got["totalActivities"] == 7 and got["formSubmitCount"] == 1


def test_counts_velocity_and_high_value_actions():
    activities = [
        act("meeting", timedelta(days=1)),
        act("call", timedelta(days=2)),
        act("form_submit", timedelta(days=3)),
        act("page_view", timedelta(days=4)),
        act("email_open", timedelta(days=5)),
    ]
    got = features(lead(created_at=AS_OF - timedelta(days=10)), activities)
    assert got["highValueActionCount"] == 3
    assert got["activityVelocity"] == pytest.approx(0.5)
    young = features(lead(created_at=AS_OF - timedelta(hours=12)), activities[:3])
    assert young["activityVelocity"] == pytest.approx(3.0)  # lead age counts as at least one day


def test_recency_has_a_seven_day_half_life():
    assert features(lead(), [act("page_view", timedelta(days=7))])["recencyScore"] == pytest.approx(50.0)
    assert features(lead(), [act("page_view", timedelta(days=14))])["recencyScore"] == pytest.approx(25.0)
    assert features(lead(), [act("page_view", timedelta(0))])["recencyScore"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("gaps_hours", "burst"),
    [((0, 10, 24), True), ((0, 10, 24.001), False), ((0, 30, 40, 50), True), ((0, 30, 40, 60), False), ((0, 1), False)],
)
def test_activity_burst(gaps_hours, burst):
    activities = [act("page_view", timedelta(days=20) - timedelta(hours=h)) for h in gaps_hours]
    assert features(lead(), activities)["activityBurst"] is burst


def test_day_pattern_cut_offs():
    monday = AS_OF - timedelta(days=2)
    sunday = AS_OF - timedelta(days=3)

    def pattern(n_weekday, n_weekend):
        activities = [ActivityInput("page_view", monday - timedelta(minutes=i)) for i in range(n_weekday)]
        activities += [ActivityInput("page_view", sunday - timedelta(minutes=i)) for i in range(n_weekend)]
        return features(lead(), activities)["dayPattern"]

    assert pattern(5, 0) == "weekday"
    assert pattern(4, 1) == "mixed"  # exactly 0.8 is not above 0.8
    assert pattern(9, 1) == "weekday"
    assert pattern(1, 4) == "mixed"
    assert pattern(1, 9) == "weekend"


def test_hours_and_weekdays_use_the_config_timezone_not_the_servers(monkeypatch):
    # Mondays 14:00-14:04 UTC: business hours on a weekday in UTC, 06:00 in Los Angeles,
    # 23:00 in Tokyo. Sunday 23:30 UTC is already Monday morning in Tokyo.
    monday = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
    activities = [ActivityInput("page_view", monday + timedelta(minutes=i)) for i in range(5)]
    sunday_late = [
        ActivityInput("page_view", datetime(2025, 3, 9, 23, 30, tzinfo=UTC) + timedelta(minutes=i)) for i in range(5)
    ]
    as_of = datetime(2025, 3, 11, tzinfo=UTC)

    def patterns(timezone, items):
        got = features(lead(created_at=as_of - timedelta(days=30)), items, as_of=as_of, timezone=timezone)
        return got["dayPattern"], got["timePattern"]

    for server_zone in ("UTC", "Pacific/Kiritimati", "America/Anchorage"):
        monkeypatch.setenv("TZ", server_zone)
        time.tzset()
        assert patterns("UTC", activities) == ("weekday", "business_hours")
        assert patterns("America/Los_Angeles", activities) == ("weekday", "after_hours")
        assert patterns("Asia/Tokyo", activities) == ("weekday", "after_hours")
        assert patterns("UTC", sunday_late) == ("weekend", "after_hours")
        assert patterns("Asia/Tokyo", sunday_late) == ("weekday", "after_hours")
    monkeypatch.delenv("TZ")
    time.tzset()


def test_average_response_time_from_outbound_touch_to_next_inbound():
    start = timedelta(days=10)
    activities = [
        act("email_sent", start),
        act("email_open", start - timedelta(hours=2)),
        act("call", start - timedelta(hours=3), "outbound"),
        act("email_click", start - timedelta(hours=7)),
        act("email_sent", timedelta(hours=1)),  # not answered yet: left out
    ]
    got = features(lead(), activities)
    assert got["avgResponseTime"] == pytest.approx(3.0)  # (2 h + 4 h) / 2
    assert got["callCount"] == 0  # our outbound call is not the lead's engagement


def test_response_must_come_strictly_after_the_touch():
    same_moment = [act("email_sent", timedelta(days=1)), act("email_open", timedelta(days=1))]
    assert features(lead(), same_moment)["avgResponseTime"] is None
    later = same_moment + [act("page_view", timedelta(hours=18))]
    assert features(lead(), later)["avgResponseTime"] == pytest.approx(6.0)


def test_email_rates_are_per_send():
    activities = [act("email_sent", timedelta(days=5)), act("email_sent", timedelta(days=4))]
    activities += [act("email_open", timedelta(days=3, hours=h)) for h in range(3)]
    activities += [act("email_click", timedelta(days=2))]
    got = features(lead(), activities)
    assert got["emailOpenRate"] == pytest.approx(1.5) and got["emailClickRate"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("step", "total", "active", "engagement"),
    [
        (0, 4, True, 0.25),
        (3, 4, True, 1.0),
        (9, 4, False, 1.0),
        (None, 4, False, 0.0),
        (1, 0, True, 0.0),
        (None, None, False, 0.0),
    ],
)
def test_sequence_features(step, total, active, engagement):
    got = features(lead(sequence_name="nurture", sequence_step=step, sequence_total=total, sequence_active=active))
    assert got["sequenceEngagement"] == pytest.approx(engagement)
    assert got["isInActiveSequence"] is active


def test_direction_falls_back_to_the_types_default():
    activities = [
        ActivityInput("email_sent", AS_OF - timedelta(days=1), None),
        ActivityInput("EMAIL_SENT", AS_OF - timedelta(days=1), "sideways"),
        ActivityInput(" page_view ", AS_OF - timedelta(days=1), "INBOUND"),
    ]
    got = features(lead(), activities)
    assert got["emailSentCount"] == 2 and got["pageViewCount"] == 1 and got["totalActivities"] == 1


def test_days_are_fractional_and_created_after_as_of_is_zero_age():
    got = features(lead(created_at=AS_OF - timedelta(hours=36)), [act("page_view", timedelta(hours=6))])
    assert got["daysSinceCreated"] == pytest.approx(1.5) and got["daysSinceLastActivity"] == pytest.approx(0.25)
    assert features(lead(created_at=AS_OF + timedelta(days=1)))["daysSinceCreated"] == 0.0
