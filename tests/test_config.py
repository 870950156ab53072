import pytest

from ethics.config import load_settings
from ethics.errors import ValidationError


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
