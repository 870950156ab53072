"""The README's "Register your scikit-learn pipeline" runs as written, from a fresh data home.

Python blocks run one after the other in one namespace, as cells of a notebook; shell blocks
run in bash with ``python`` being this interpreter.  Each block's output is kept for the asserts.
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from ethics import auth, registry, reports, store
from ethics.cli import cli
from tests.conftest import REPO

SECTION = "## Register your scikit-learn pipeline"


class BlockFailed(AssertionError):
    """A shell block of the walk-through exited with an error."""

    def __init__(self, code: str, output: str) -> None:
        super().__init__(f"{code}\n{output}")
        self.output = output


def blocks() -> list[tuple[str, str]]:
    """The section's fenced code blocks, as (language, code)."""
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```(python|sh)\n(.*?)```", text[start:end], flags=re.S)


def run_walkthrough(tmp_path, monkeypatch, until: int | None = None) -> tuple[list[str], dict]:
    home, work, bin_dir = tmp_path / "home", tmp_path / "work", tmp_path / "bin"
    for path in (work, bin_dir):
        path.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    monkeypatch.setenv("ETHICS_HOME", str(home))
    monkeypatch.chdir(work)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    namespace: dict = {"__name__": "__walkthrough__"}
    outputs = []
    for language, code in blocks()[:until]:
        if language == "python":
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(code, "README.md", "exec"), namespace)
            outputs.append(printed.getvalue())
        else:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=600)
            if done.returncode:
                raise BlockFailed(code, done.stdout + done.stderr)
            outputs.append(done.stdout)
    return outputs, namespace


def test_the_section_has_the_steps_in_order():
    found = blocks()
    assert [language for language, _ in found] == ["python", "sh", "python", "sh", "python", "sh"]
    assert "manifest init" in found[1][1] and "--reference reference.csv" in found[3][1]
    assert "ethics.register(pipe" in found[4][1] and "explain --model churn" in found[5][1]


def test_the_walkthrough_registers_the_pipeline_by_cli_and_notebook(tmp_path, monkeypatch):
    outputs, namespace = run_walkthrough(tmp_path, monkeypatch, until=5)
    assert outputs[1].startswith("wrote manifest.toml: replace its 11 TODOs")
    written = (tmp_path / "work" / "manifest.toml").read_text()
    assert "    # {name = \"gender\", label = \"Gender\"}," in written or "TODO" not in written
    assert re.match(r"registered churn 1\.0\.0 \(artifact skops, sha256 [0-9a-f]{64}\)\n", outputs[3])
    sentence = "The model governed here reproduces production scores to 0 (identical) on 600 rows (tolerance 1e-06)."
    assert outputs[3].splitlines()[1] == sentence
    assert outputs[4] == f"1.1.0 {sentence}\n"
    db = store.open_db(tmp_path / "home" / "ethics.db")
    versions = registry.list_versions(db, "churn")
    assert [(v["version"], v["artifact_kind"], v["reference_rows"]) for v in versions] == [
        ("1.0.0", "skops", 600), ("1.1.0", "skops", 600)]
    manifest = versions[0]["manifest"]
    assert [(f["name"], f.get("type", "number")) for f in manifest["features"]] == [
        ("tenure_months", "number"), ("monthly_charges", "number"), ("contract", "category")]
    assert [a["name"] for a in manifest["sensitive_attributes"]] == ["gender"]
    # What the governed model computes is the live pipeline's score, for every lead of the batch.
    pipe, leads, features = namespace["pipe"], namespace["leads"], namespace["features"]
    with registry.load_scorer(versions[1], home=tmp_path / "home") as scorer:
        np.testing.assert_allclose(scorer.score(leads[features]), pipe.predict_proba(leads[features])[:, 1],
                                   rtol=0, atol=1e-12)
    db.close()


def test_the_walkthrough_snapshot_explains_a_lead_in_raw_features(tmp_path, monkeypatch):
    import shap

    outputs, namespace = run_walkthrough(tmp_path, monkeypatch)
    assert outputs[5].startswith("imported 600 rows as scoring batch 1 of churn 1.1.0 for 2026-W48")
    pipe, leads, features = namespace["pipe"], namespace["leads"], namespace["features"]
    lead = leads[leads["lead_id"] == "L0007"]
    # Independently: linear SHAP of the final estimator on the transformed batch, one-hot columns summed.
    z = pipe[:-1].transform(leads[features])
    explainer = shap.LinearExplainer(pipe[-1], shap.maskers.Independent(z, max_samples=len(z)))
    values = explainer.shap_values(pipe[:-1].transform(lead[features]))[0]
    names = list(pipe[:-1].get_feature_names_out())
    expected = {"tenure_months": values[names.index("num__tenure_months")],
                "monthly_charges": values[names.index("num__monthly_charges")],
                "contract": sum(v for v, n in zip(values, names, strict=True) if n.startswith("cat__contract_"))}
    shown = json.loads(CliRunner().invoke(cli, ["explain", "--model", "churn", "--week", "2026-W48", "--lead",
                                                "L0007", "--json"]).output)[0]["explanation"]
    reasons = shown["reasons"]["raising"] + shown["reasons"]["lowering"]
    assert {r["feature"] for r in reasons} <= set(features)
    for reason in reasons:
        assert reason["shap"] == pytest.approx(expected[reason["feature"]], abs=1e-6)
    contract = lead["contract"].iloc[0]
    effect = "raises" if expected["contract"] > 0 else "lowers"
    assert f"Contract: {contract} — {effect} the score" in outputs[5]
    assert "cat__" not in outputs[5]
    # The report facts (PDF, model card, CSV) say which input is text.
    db = store.open_db(tmp_path / "home" / "ethics.db")
    facts = reports.model_facts(db, model_id="churn", actor=auth.Actor("olivia", "Olivia", "ethics_officer"))
    assert [(f["name"], f["type"]) for f in facts["features"]] == [
        ("tenure_months", "number"), ("monthly_charges", "number"), ("contract", "category")]
    db.close()
