"""Consent events, coverage against an independent loop, violations, human routing, the snapshot's consent part."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ethics import consent, datasets, incidents, leads, privacy, snapshots, store
from ethics.errors import ValidationError
from ethics.weeks import parse_time
from tests.conftest import EXAMPLE_MODEL, EXAMPLE_VERSION, WEEK, default_policy

STRICTNESS = {"granted": 0, "withdrawn": 1, "objected": 2}
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]


@pytest.fixture
def demo_db(demo_home):
    database = store.open_db(demo_home / "ethics.db")
    yield database
    database.close()


def _event(number, customer, status, at, purpose="ai_scoring", source="crm"):
    return {"event_id": f"E{number}", "customer_id": customer, "purpose": purpose, "status": status,
            "source": source, "occurred_at": at}


def _state_by_loop(events, customer, purpose, at):
    """The latest event at or before ``at`` (stricter status on a tie), by a plain loop over every event."""
    moment = parse_time(at)
    best = None
    for event in events:
        when = parse_time(event["occurred_at"])
        if event["customer_id"] != customer or event["purpose"] != purpose or when > moment:
            continue
        key = (when, STRICTNESS[event["status"]])
        if best is None or key >= best[0]:
            best = (key, event)
    return "none" if best is None else best[1]["status"]


def _random_events(rng, customers, count):
    start = datetime(2026, 9, 1, tzinfo=UTC)
    events = []
    for number in range(count):
        at = start + timedelta(seconds=int(rng.integers(0, 80 * 86_400)))
        zone = ZONES[number % len(ZONES)]
        text = at.astimezone(zone).isoformat().replace("+00:00", "Z" if number % 2 else "+00:00")
        events.append(_event(number, str(rng.choice(customers)), str(rng.choice(list(STRICTNESS))), text,
                             purpose=str(rng.choice(["ai_scoring", "profiling", "marketing"]))))
    # Same-second ties between a grant and a withdrawal of one customer.
    events.append(_event(count, customers[0], "granted", "2026-10-01T12:00:00Z"))
    events.append(_event(count + 1, customers[0], "withdrawn", "2026-10-01T14:00:00+02:00"))
    return events


def test_as_of_state_matches_a_plain_loop(fresh_db, now):
    rng = np.random.default_rng(7)
    customers = [f"C{i:03d}" for i in range(40)]
    events = _random_events(rng, customers, 600)
    rng.shuffle(events)  # import order must not matter
    consent.record_events(fresh_db, events, source_name="events.csv", actor="t", now=now)
    index = consent.EventIndex.from_db(fresh_db, purposes=consent.PURPOSES)
    pseudonyms = dict(zip(customers, privacy.pseudonymise_all(fresh_db, customers), strict=True))
    times = [f"2026-{m:02d}-{d:02d}T{h:02d}:00:00Z" for m in (9, 10, 11) for d in (1, 15) for h in (0, 12)]
    times.append("2026-10-01T12:00:00Z")  # the tie: withdrawn wins
    for purpose in ("ai_scoring", "profiling"):
        for at in times:
            expected = [_state_by_loop(events, c, purpose, at) for c in customers]
            codes, _ = index.as_of(np.array([pseudonyms[c] for c in customers], dtype=object), purpose,
                                   int(parse_time(at).timestamp()))
            got = ["none" if code < 0 else consent.STATUSES[code] for code in codes]
            assert got == expected, (purpose, at)
            for customer in customers[:8]:
                found = consent.status_at(fresh_db, customer_id=pseudonyms[customer], purpose=purpose, at=at)
                assert found["status"] == _state_by_loop(events, customer, purpose, at)
    assert consent.status_at(fresh_db, customer_id=pseudonyms["C000"], purpose="ai_scoring",
                             at="2026-10-01T12:00:00Z")["status"] == "withdrawn"
    assert consent.status_at(fresh_db, customer_id="p-unknown", purpose="ai_scoring", at="2026-10-01") == {
        "status": "none", "since": None, "source": None}


def _coverage_by_loop(frame, events, purpose, scored_at):
    """Counts per team by looping over leads and events; customer ids as typed."""
    rows = []
    for lead in frame.itertuples():
        status = _state_by_loop(events, lead.customer_id, purpose, scored_at[lead.Index])
        rows.append({"team": lead.team, "status": status})
    table = pd.DataFrame(rows)
    out = {}
    for team, part in [(None, table), *table.groupby("team")]:
        out[team] = {"scored": len(part), "covered": int((part["status"] == "granted").sum()),
                     "after_withdrawal": int((part["status"] == "withdrawn").sum()),
                     "after_objection": int((part["status"] == "objected").sum())}
        out[team]["without_consent"] = out[team]["scored"] - out[team]["covered"]
    return out


@pytest.fixture
def consented_example(db, home, examples, registered, now):
    """The example model, consent events for its customers, a scoring batch with per-lead scored_at."""
    rng = np.random.default_rng(11)
    scores = pd.read_csv(examples / "scores.csv", dtype=str)
    customers = sorted(set(scores["customer_id"]))
    events = _random_events(rng, customers, 900)
    for number, customer in enumerate(customers[::3]):  # most customers granted long ago
        events.append(_event(10_000 + number, customer, "granted", "2026-06-01T00:00:00Z"))
    consent.record_events(db, events, source_name="events.csv", actor="t", now=now)
    stamps = [f"2026-11-{16 + i % 7:02d}T{i % 24:02d}:30:00+01:00" for i in range(len(scores))]
    scores["scored_at"] = stamps
    scores.to_csv(examples / "timed.csv", index=False)
    for kind, path in (("eval", examples / "eval.csv"), ("scores", examples / "timed.csv")):
        datasets.import_dataset(db, path, kind=kind, model_id=EXAMPLE_MODEL, version=EXAMPLE_VERSION, week=WEEK,
                                home=home, actor="t", now=now)
    snap = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(),
                                   actor="t", now=now)
    return snap, scores, events


def test_snapshot_coverage_matches_a_plain_loop(consented_example):
    snap, scores, events = consented_example
    found = snap["results"]["consent"]
    expected = _coverage_by_loop(scores, events, "ai_scoring", scores["scored_at"].tolist())
    keys = ("scored", "covered", "without_consent", "after_withdrawal", "after_objection")
    assert {k: found[k] for k in keys} == expected[None]
    assert found["coverage"] == pytest.approx(expected[None]["covered"] / expected[None]["scored"])
    assert {r["team"]: {k: r[k] for k in keys} for r in found["by_team"]} == {
        team: counts for team, counts in expected.items() if team is not None}
    assert found["violations"] == found["without_consent"] > 0
    assert found["purpose"] == "ai_scoring"
    assert snap["inputs"]["consent_events"]["events"] == len(events)


def test_lead_card_consent_is_the_state_when_that_lead_was_scored(consented_example, db, home):
    snap, scores, events = consented_example
    frame, explained = leads.lead_rows(db, snap, home=home)
    assert explained and "scored_at" in frame.columns  # the card reads the stored per-lead values
    checked = set()
    for row in scores.iloc[::25].itertuples():
        [card] = leads.find_leads(db, home=home, model_id=EXAMPLE_MODEL, query=row.lead_id, team=None,
                                  snapshot_id=snap["id"])
        assert parse_time(card["consent"]["at"]) == parse_time(row.scored_at)
        assert card["consent"]["status"] == _state_by_loop(events, row.customer_id, "ai_scoring", row.scored_at)
        checked.add(card["consent"]["status"])
    assert len(checked) >= 3  # granted and at least two other states, so a batch-wide time could not pass


def test_human_routing_count_and_list_match_objections(consented_example, db, home, now):
    snap, scores, events = consented_example
    times = scores["scored_at"].tolist()
    objected = {lead.customer_id for lead in scores.itertuples()
                if any(_state_by_loop(events, lead.customer_id, p, times[lead.Index]) == "objected"
                       for p in consent.OBJECTION_PURPOSES)}
    assert snap["results"]["consent"]["human_routing"] == len(objected)
    listed = consent.list_human_routing(db, home=home, at=now)
    at_now = {c for c in set(scores["customer_id"])
              if any(_state_by_loop(events, c, p, "2026-11-25T09:00:00Z") == "objected"
                     for p in consent.OBJECTION_PURPOSES)}
    pseudonyms = dict(zip(sorted(at_now), privacy.pseudonymise_all(db, sorted(at_now)), strict=True))
    assert {r["customer"] for r in listed} == set(pseudonyms.values())
    north = consent.list_human_routing(db, home=home, scope="north", at=now)
    assert north and {r["team"] for r in north} == {"north"}
    # The north-owned model scores south's leads: south's manager gets them, and north's never.
    south = consent.list_human_routing(db, home=home, scope="south", at=now)
    assert south and {r["team"] for r in south} == {"south"}
    assert len(north) + len(south) == len(listed)
    assert consent.list_human_routing(db, home=home, scope="west", at=now) == []


def test_fairness_on_consented_rows_matches_filtering_by_hand(consented_example, db, home):
    snap, scores, events = consented_example
    times = scores["scored_at"].tolist()
    keep = [_state_by_loop(events, lead.customer_id, "ai_scoring", times[lead.Index]) == "granted"
            for lead in scores.itertuples()]
    fair = snap["results"]["consent"]["fairness_consented"]
    assert fair["rows"]["scores"] == sum(keep)
    stored = datasets.read_rows(datasets.find_dataset(db, EXAMPLE_MODEL, version=EXAMPLE_VERSION, kind="scores",
                                                      week=WEEK), home=home)
    chosen = stored[np.array(keep)]
    selected = (chosen["score"] >= snap["results"]["threshold"]).groupby(chosen["sex"]).mean()
    ratio = selected.min() / selected.max()
    verdict = next(v for v in fair["verdicts"] if v["data"] == "scores" and v["grouping"] == "sex"
                   and v["metric"] == "demographic_parity_ratio")
    assert verdict["value"] == pytest.approx(ratio)
    shares = chosen["sex"].value_counts(normalize=True)
    for row in (r for r in fair["sampling"] if r["attribute"] == "sex"):
        assert row["consented_share"] == pytest.approx(shares[row["group"]])
    compared = consent.compare_fairness(snap["results"]["verdicts"], fair["verdicts"])
    assert len(compared) == len(snap["results"]["verdicts"])


def test_late_event_counts_by_event_time_in_violations(consented_example, db, home, now):
    snap, scores, _ = consented_example
    before = consent.list_violations(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home)
    assert len(before) == snap["results"]["consent"]["without_consent"]
    covered = next(c for c in scores["customer_id"] if privacy.pseudonymise(db, c) not in
                   {v["customer"] for v in before})
    # Imported today, but the withdrawal happened before the batch was scored.
    consent.record_events(db, [_event("late", covered, "withdrawn", "2026-11-01T00:00:00Z")],
                          source_name="late.csv", actor="t", now=now)
    after = consent.list_violations(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home)
    late = [v for v in after if v["customer"] == privacy.pseudonymise(db, covered)]
    assert late and all(v["status"] == "withdrawn" and "withdrawn on 2026-11-01" in v["reason"] for v in late)
    assert len(after) == len(before) + len(late)
    again = snapshots.take_snapshot(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, policy=default_policy(),
                                    actor="t", now=now)
    assert again["hash"] != snap["hash"]
    assert again["results"]["consent"]["without_consent"] == len(after)
    north = consent.list_violations(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, team="north")
    assert {v["team"] for v in north} == {"north"} and len(north) < len(after)


def test_violations_csv_is_formula_safe_and_one_incident_covers_them(consented_example, db, home, now):
    rows = consent.list_violations(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home)
    text = consent.violations_csv([{**rows[0], "name": "=HYPERLINK(\"http://x\")"}])
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text
    opened = consent.open_violations_incident(db, model_id=EXAMPLE_MODEL, week=WEEK, home=home, reporter="olivia",
                                              now=now)
    assert opened["category"] == "privacy" and opened["team"] is None
    assert opened["title"] == f"{len(rows)} leads scored without consent in {WEEK}"
    # About the whole model, seen by every team it scores: counts per team, no lead id.
    per_team = {t: sum(r["team"] == t for r in rows) for t in ("north", "south")}
    assert f"Per team: north {per_team['north']}, south {per_team['south']};" in opened["description"]
    assert not any(r["lead_id"] in opened["description"] for r in rows)
    assert opened["snapshot_id"] == consented_example[0]["id"]
    assert opened["severity"] == ("high" if any(r["status"] == "objected" for r in rows) else "medium")
    assert incidents.get_incident(db, opened["id"])["timeline"][0]["action"] == "incident.opened"


@pytest.mark.parametrize(("found", "policy", "status"), [
    ({"scored": 100, "coverage": 0.99, "after_objection": 0}, {}, "pass"),
    ({"scored": 100, "coverage": 0.97, "after_objection": 0}, {}, "warn"),
    ({"scored": 100, "coverage": 0.94, "after_objection": 0}, {}, "fail"),
    ({"scored": 100, "coverage": 0.99, "after_objection": 1}, {}, "fail"),
    ({"scored": 100, "coverage": 0.99, "after_objection": 1}, {"fail_on_objection": False}, "pass"),
    ({"scored": 100, "coverage": 0.90, "after_objection": 0}, {"coverage": {"fail_below": 0.8}}, "pass"),
    (None, {}, "not_evaluated"),
])
def test_consent_light_follows_the_policy(found, policy, status):
    summary = None if found is None else {"purpose": "ai_scoring", "without_consent": 1, **found}
    assert consent.consent_light(summary, {"consent": policy})["status"] == status


def test_shipped_policy_has_the_consent_thresholds():
    assert default_policy()["consent"] == {"coverage": {"warn_below": 0.98, "fail_below": 0.95},
                                           "fail_on_objection": True}


@pytest.mark.parametrize(("table", "fragment"), [
    ({"coverage": {"warn_below": 98}}, "warn_below = 98 must be"),
    ({"coverage": {"fail_above": 0.9}}, "fail_above = 0.9 is not one of fail_below, warn_below"),
    ({"fail_on_objection": "yes"}, "must be true or false"),
    ({"minimum": 0.9}, "[policy.consent] minimum: unknown key"),
])
def test_bad_consent_policy_is_refused(table, fragment):
    from ethics.policy_schema import validate_policy

    with pytest.raises(ValidationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        validate_policy({"consent": table}, file="ethics.toml")


def test_customer_ids_are_stored_as_keyed_pseudonyms(db, home, examples, registered, now):
    row = datasets.import_dataset(db, examples / "scores.csv", kind="scores", model_id=EXAMPLE_MODEL,
                                  version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    stored = datasets.read_rows(row, home=home)
    typed = pd.read_csv(examples / "scores.csv", dtype=str)["customer_id"]
    assert stored["customer_id"].tolist() == [privacy.pseudonymise(db, c) for c in typed]
    assert stored["customer_id"].str.fullmatch(r"p-[0-9a-f]{32}").all()
    key = (home / privacy.KEY_FILE)
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().strip() not in db.execute("select group_concat(fingerprint) from privacy_key").fetchone()[0]
    assert privacy.pseudonymise(db, " C000455 ") == privacy.pseudonymise(db, "C000455")


def test_lost_key_is_an_error_not_new_pseudonyms(db, home, now):
    privacy.pseudonymise(db, "C1")
    (home / privacy.KEY_FILE).unlink()
    privacy._KEYS.clear()
    with pytest.raises(ValidationError, match="privacy.key is missing or was replaced"):
        privacy.pseudonymise(db, "C1")
    assert not (home / privacy.KEY_FILE).exists()


def test_scored_at_defaults_to_the_import_time(db, home, examples, registered, now):
    row = datasets.import_dataset(db, examples / "scores.csv", kind="scores", model_id=EXAMPLE_MODEL,
                                  version=EXAMPLE_VERSION, week=WEEK, home=home, actor="t", now=now)
    frame = datasets.read_rows(row, home=home)
    assert "scored_at" not in frame.columns
    assert set(consent.scoring_times(frame, row)) == {int(now.timestamp())}


def test_demo_shows_gaps_withdrawals_and_a_routing_list(demo_db, demo_home):
    from ethics import demo

    for model_id in demo.DEMO_MODEL_IDS:
        found = snapshots.latest_snapshot(demo_db, model_id)["results"]["consent"]
        never = found["without_consent"] - found["after_withdrawal"] - found["after_objection"]
        assert never > 0 and found["after_withdrawal"] > 0
        assert 0.9 < found["coverage"] < 0.99
    first = snapshots.latest_snapshot(demo_db, "lead-scoring", week="2026-W41")["results"]["consent"]
    assert first["after_withdrawal"] == 0  # withdrawals only start during the demo weeks
    routing = consent.list_human_routing(demo_db, home=demo_home, at=datetime(2026, 11, 25, tzinfo=UTC))
    assert len(routing) > 10 and {r["team"] for r in routing} - {None} == set(demo.DEMO_TEAMS)
    assert all(r["leads"] for r in routing if r["team"] is not None)
    assert all(r["name"] for r in routing)
    lights = {snapshots.latest_snapshot(demo_db, m)["summary"]["lights"]["consent"]["status"]
              for m in demo.DEMO_MODEL_IDS}
    assert lights <= {"warn", "fail"}
