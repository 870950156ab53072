import tomllib

import pytest
from click.testing import CliRunner

from ethics import policy_schema
from ethics.cli import cli
from ethics.config import DEFAULTS_FILE, load_settings
from ethics.errors import ValidationError
from tests.conftest import state_of


def test_defaults_hold_the_four_fifths_rule(tmp_path):
    settings = load_settings({"ETHICS_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()
    assert settings.db_path == tmp_path.resolve() / "ethics.db"
    assert settings.policy["fairness"]["demographic_parity_ratio"] == {"fail_below": 0.8, "warn_below": 0.9}
    assert settings.policy["min_group_size"] == 30 and settings.policy["bootstrap"]["resamples"] == 1000


def test_local_ethics_toml_overrides_key_by_key(tmp_path):
    (tmp_path / "ethics.toml").write_text("[policy]\nmin_group_size = 50\n[policy.bootstrap]\nresamples = 200\n")
    policy = load_settings({"ETHICS_HOME": str(tmp_path)}).policy
    assert (policy["min_group_size"], policy["bootstrap"]["resamples"], policy["bootstrap"]["seed"]) == (50, 200, 0)


@pytest.mark.parametrize("text,message", [
    ("[policy.fairness]\nfour_fifths = { fail_below = 0.8 }\n", "[policy.fairness] four_fifths: unknown metric"),
    ("[policy.fairness]\ndemographic_parity_ratio = { fail_under = 0.8 }\n", "fail_under = 0.8 is not one of"),
    ("[policy.fairness]\ndemographic_parity_ratio = 0.8\n", "must be a table"),
    ("[policy\n", "not valid TOML"),
])
def test_bad_policy_names_file_table_and_key(tmp_path, text, message):
    (tmp_path / "ethics.toml").write_text(text)
    with pytest.raises(ValidationError) as raised:
        load_settings({"ETHICS_HOME": str(tmp_path)})
    assert str(tmp_path / "ethics.toml") in str(raised.value) and message in str(raised.value)


def _refused(home, text):
    """The message (and hint) with which load_settings refuses ``text`` as the data home's ethics.toml."""
    (home / "ethics.toml").write_text(text)
    with pytest.raises(ValidationError) as raised:
        load_settings({"ETHICS_HOME": str(home)})
    return str(raised.value).replace(f"{home / 'ethics.toml'}: ", "ethics.toml: "), raised.value.hint


ORDER = "limits must run fail_below ≤ warn_below < warn_above ≤ fail_above."


@pytest.mark.parametrize("text,message", [
    ("[policy]\nmin_grup_size = 40\n",
     "ethics.toml: [policy] min_grup_size: unknown key; did you mean min_group_size?"),
    ("[policy.samplng]\nmax_share_difference = 0.1\n",
     "ethics.toml: [policy.samplng]: unknown table; did you mean [policy.sampling]?"),
    ("[polcy]\nmin_group_size = 40\n", "ethics.toml: [polcy]: unknown table; did you mean [policy]?"),
    ("[policy.drift]\npsy = { warn_above = 0.1 }\n", "ethics.toml: [policy.drift] psy: unknown key; did you mean psi?"),
    ("[policy.bootstrap]\nsamples = 10\nseed = 1\n",
     "ethics.toml: [policy.bootstrap] samples: unknown key; did you mean resamples?"),
    ("[policy.explanations]\nproxy = 0.3\n",
     "ethics.toml: [policy.explanations] proxy: unknown key; use proxy_threshold."),
    ("[policy.fairness]\ndemographic_parity_ratio = { fail_under = 0.8 }\n",
     "ethics.toml: [policy.fairness] demographic_parity_ratio: fail_under = 0.8 is not one of fail_below, warn_below, "
     "warn_above, fail_above (did you mean fail_below?)."),
    ("[policy.sampling]\nmax_share_difference = 1.5\n",
     "ethics.toml: [policy.sampling] max_share_difference = 1.5: must be a number in [0, 1] (a share)."),
    ("[policy.consent]\ncoverage = { fail_below = -0.1 }\n",
     "ethics.toml: [policy.consent] coverage: fail_below = -0.1 must be a number in [0, 1] (a share)."),
    ("[policy.fairness]\nequalized_odds_difference = { warn_above = 0.1, fail_above = 1.2 }\n",
     "ethics.toml: [policy.fairness] equalized_odds_difference: fail_above = 1.2 must be a number in [0, 1] "
     "(a share)."),
    ("[policy]\nmin_group_size = true\n", "ethics.toml: [policy] min_group_size = true: must be an integer ≥ 1."),
    ("[policy.sampling]\nmax_share_difference = false\n",
     "ethics.toml: [policy.sampling] max_share_difference = false: must be a number in [0, 1] (a share)."),
    ("[policy]\nmin_group_size = 0\n", "ethics.toml: [policy] min_group_size = 0: must be an integer ≥ 1."),
    ("[policy]\nreview_every_days = 7.5\n", "ethics.toml: [policy] review_every_days = 7.5: must be an integer ≥ 1."),
    ("[policy]\nsampling = 0.05\n", "ethics.toml: [policy] sampling = 0.05: must be a table of max_share_difference."),
    ("[policy.bootstrap]\nresamples = 0\n", "ethics.toml: [policy.bootstrap] resamples = 0: must be an integer ≥ 1."),
    ("[policy.bootstrap]\nconfidence = 1\n",
     "ethics.toml: [policy.bootstrap] confidence = 1: must be a number in (0, 1)."),
    ("[policy.bootstrap]\nseed = -1\n", "ethics.toml: [policy.bootstrap] seed = -1: must be an integer ≥ 0."),
    ("[policy.drift]\npsi = { warn_above = -0.1, fail_above = 0.2 }\n",
     "ethics.toml: [policy.drift] psi: warn_above = -0.1 must be a number ≥ 0 (a PSI)."),
    ("[policy.drift]\npsi = { fail_above = inf }\n",
     "ethics.toml: [policy.drift] psi: fail_above = inf must be a number ≥ 0 (a PSI)."),
    ("[policy.drift]\npsi = { fail_below = 0.1 }\n",
     "ethics.toml: [policy.drift] psi: fail_below = 0.1 is not one of warn_above, fail_above."),
    ('[policy.consent]\nfail_on_objection = "yes"\n',
     'ethics.toml: [policy.consent] fail_on_objection = "yes": must be true or false.'),
])
def test_policy_is_refused_when_read_with_file_table_and_key(home, text, message):
    assert _refused(home, text) == (message, None)


@pytest.mark.parametrize("text,message", [
    ("[policy.drift]\npsi = { warn_above = 0.3, fail_above = 0.1 }\n",
     f"ethics.toml: [policy.drift] psi: warn_above = 0.3 is above fail_above = 0.1; {ORDER}"),
    ("[policy.fairness]\ndemographic_parity_ratio = { fail_below = 0.8, warn_below = 0.7 }\n",
     f"ethics.toml: [policy.fairness] demographic_parity_ratio: fail_below = 0.8 is above warn_below = 0.7; {ORDER}"),
    # Merged key by key: the shipped warn_below = 0.9 meets the file's warn_above.
    ("[policy.fairness]\ndemographic_parity_ratio = { warn_above = 0.9 }\n",
     f"ethics.toml: [policy.fairness] demographic_parity_ratio: warn_below = 0.9 is not below warn_above = 0.9; "
     f"{ORDER}"),
    ("[policy.consent]\ncoverage = { fail_below = 0.99 }\n",
     f"ethics.toml: [policy.consent] coverage: fail_below = 0.99 is above warn_below = 0.98; {ORDER}"),
])
def test_inverted_thresholds_are_refused_with_a_hint_about_merging(home, text, message):
    assert _refused(home, text) == (message, policy_schema.MERGED_HINT)


@pytest.mark.parametrize("text", [
    "[policy.drift]\npsi = { warn_above = 0.2 }\n",  # only warn limits: never fails, still valid
    "[policy.fairness]\nequal_opportunity_difference = { warn_above = 0.1 }\n",
    "[policy.fairness]\ndemographic_parity_ratio = { fail_below = 0.8, warn_below = 0.8 }\n",  # no warn band
    "[policy.consent]\ncoverage = { warn_below = 1, fail_below = 0 }\n",
])
def test_consistent_thresholds_are_accepted(home, text):
    (home / "ethics.toml").write_text(text)
    assert load_settings({"ETHICS_HOME": str(home)}).policy_file == home / "ethics.toml"


def test_shipped_defaults_validate_and_hold_every_table_and_key_of_the_schema():
    defaults = tomllib.loads(DEFAULTS_FILE.read_text())
    assert policy_schema.validate_settings(defaults, file="default.toml") == defaults["policy"]
    policy, schema = defaults["policy"], policy_schema.POLICY.entries
    assert set(policy) == set(schema)
    # Disparity thresholds are optional (only those listed are judged) and models have none by default;
    # every other key has its default there.
    judged = ("fairness", "continuous", "multiclass", "ranking")
    for name, rule in schema.items():
        if isinstance(rule, policy_schema.Table) and name not in (*judged, "models"):
            assert set(policy[name]) == set(rule.entries), name
    assert set(policy["fairness"]) == {"demographic_parity_ratio", "equalized_odds_difference"}
    assert set(policy["continuous"]) == {"mean_ratio", "ks"}  # unit-free: differences are set per model
    assert set(policy["ranking"]) == {"demographic_parity_ratio", "exposure_ratio"}
    assert policy["models"] == {}


DEFAULT_LINES = [
    "# ethics/default.toml",
    "min_group_size = 30",
    "review_every_days = 7",
    "amount_quantile = 0.5",
    "[fairness] demographic_parity_ratio = fail below 0.8, warn below 0.9",
    "[fairness] equalized_odds_difference = warn above 0.1, fail above 0.2",
    "[continuous] mean_ratio = fail below 0.8, warn below 0.9",
    "[continuous] ks = warn above 0.1, fail above 0.2",
    "[multiclass] demographic_parity_ratio = fail below 0.8, warn below 0.9",
    "[ranking] demographic_parity_ratio = fail below 0.8, warn below 0.9",
    "[ranking] exposure_ratio = fail below 0.8, warn below 0.9",
    "[bootstrap] resamples = 1000",
    "[bootstrap] confidence = 0.95",
    "[bootstrap] seed = 0",
    "[sampling] max_share_difference = 0.05",
    "[drift] psi = warn above 0.1, fail above 0.25",
    "[consent] coverage = fail below 0.95, warn below 0.98",
    "[consent] fail_on_objection = true",
    "[explanations] proxy_threshold = 0.3",
    "[equivalence] tolerance = 1e-06",
]


@pytest.fixture
def policy_check(home, monkeypatch):
    monkeypatch.setenv("ETHICS_HOME", str(home))

    def invoke(*args):
        return CliRunner().invoke(cli, ["policy", "check", *map(str, args)], catch_exceptions=False)

    return invoke


def test_policy_check_prints_the_default_policy(home, policy_check):
    before = state_of(home)
    result = policy_check()
    assert (result.exit_code, result.output.splitlines()) == (0, DEFAULT_LINES)
    assert state_of(home) == before == {}


def test_policy_check_prints_the_data_homes_policy_over_the_defaults(home, policy_check):
    (home / "ethics.toml").write_text("[policy]\nmin_group_size = 50\n[policy.drift]\npsi = { warn_above = 0.2 }\n")
    result = policy_check()
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"# ethics/default.toml with {home / 'ethics.toml'} merged over it"
    assert "min_group_size = 50" in lines and "[drift] psi = warn above 0.2, fail above 0.25" in lines


def test_policy_check_of_a_file_exits_2_with_the_message_and_writes_nothing(home, tmp_path, policy_check):
    (home / "ethics.toml").write_text("[policy]\nmin_group_size = 50\n")
    before = state_of(home)
    bad = tmp_path / "candidate.toml"
    bad.write_text("[policy.drift]\npsi = { warn_above = 0.3, fail_above = 0.1 }\n")
    result = policy_check(bad)
    assert result.exit_code == 2
    assert result.output == (f"Error: {bad}: [policy.drift] psi: warn_above = 0.3 is above fail_above = 0.1; "
                             f"{ORDER}\nHint: {policy_schema.MERGED_HINT}\n")
    good = tmp_path / "good.toml"
    good.write_text("[policy]\nmin_group_size = 40\n")
    result = policy_check(good)
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [f"# ethics/default.toml with {good} merged over it",
                                              "min_group_size = 40"]
    assert state_of(home) == before


def test_policy_check_refuses_a_bad_data_home_policy(home, policy_check):
    (home / "ethics.toml").write_text("[policy]\nmin_grup_size = 40\n")
    result = policy_check()
    assert result.exit_code == 2
    assert result.output == (f"Error: {home / 'ethics.toml'}: [policy] min_grup_size: unknown key; "
                             "did you mean min_group_size?\n")
