"""``python -m ethics``: a thin skin over the services.

Each command opens the database, calls one service and prints the result.  Errors
of the package become a one-line message with exit code 2 (bad input) or 1 (a
check failed); that translation happens here and nowhere else.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ethics import (
    artifacts,
    audit,
    auth,
    consent,
    datasets,
    dsr,
    erasure,
    explain,
    incidents,
    leads,
    privacy,
    registry,
    reviews,
    snapshots,
    store,
    teams,
)
from ethics.config import Settings, load_policy, load_settings
from ethics.errors import EthicsError, PermissionDenied, ValidationError
from ethics.policy import DATA_NAMES
from ethics.policy_schema import describe_policy
from ethics.weeks import utcnow

WEEK_HELP = "ISO week such as 2026-W48 (default: the current week)."


class _Failure(click.ClickException):
    def __init__(self, error: EthicsError) -> None:
        message = error.message + (f"\nHint: {error.hint}" if error.hint else "")
        super().__init__(message)
        self.exit_code = error.exit_code


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EthicsError as error:
            raise _Failure(error) from None


def _actor() -> str:
    ctx = click.get_current_context(silent=True)
    return (ctx.meta.get(_AS_USER) if ctx else None) or "cli:" + (os.environ.get("ETHICS_ACTOR") or getpass.getuser())


_AS_USER = "ethics.as_user"


def _reader(db: store.Database, permission: str) -> auth.Actor:
    """Who runs this command: the ``--as`` account (its role and team scope), or the data home's operator.

    The operator (no ``--as``) has the data home's full access, like every file in it.

    Raises
    ------
    PermissionDenied
        The ``--as`` account's role lacks ``permission``, or the account is disabled.
    """
    account = click.get_current_context().meta.get(_AS_USER)
    if not account:
        return auth.Actor(username=_actor(), display_name=_actor(), role="ethics_officer")
    return auth.require(auth.get_actor(db, account), permission)


def _requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse the command before it runs when the ``--as`` account's role lacks ``permission``."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if click.get_current_context().meta.get(_AS_USER):
                _reader(_open(load_settings()), permission)
            return command(*args, **kwargs)
        return checked
    return decorate


def _open(settings: Settings) -> store.Database:
    db = store.open_db(settings.db_path)
    store.migrate(db)
    return db


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


@click.group(cls=_Group)
@click.version_option(package_name="ethics", message="%(version)s")
@click.option("--as", "as_user", envvar="ETHICS_USER", metavar="USERNAME",
              help="Act as this account: its role's permissions and its team's rows (default: the data home's "
                   "operator, with full access).")
@click.pass_context
def cli(ctx: click.Context, as_user: str | None) -> None:
    """Governance of the machine-learning models a sales organisation runs.

    The data home is $ETHICS_HOME (default: data/ in the checkout).
    """
    ctx.meta[_AS_USER] = as_user


@cli.command()
@click.option("--list", "list_only", is_flag=True, help="Only list applied and pending migrations.")
@_requires("operate_data")
def migrate(list_only: bool) -> None:
    """Create or upgrade the governance database."""
    settings = load_settings()
    db = store.open_db(settings.db_path)
    from ethics.migrations import MIGRATIONS

    if list_only:
        for applied in MIGRATIONS.applied(db):
            click.echo(f"applied  {applied.name}  {applied.applied_at}")
        for pending in MIGRATIONS.pending(db):
            click.echo(f"pending  {pending.name}")
        return
    applied_now = store.migrate(db)
    click.echo(f"applied {len(applied_now)} migration(s): {', '.join(applied_now)}" if applied_now else "up to date")


@cli.command()
@click.option("--size", type=click.Choice(["full", "small"]), default="full", show_default=True,
              help="small makes a quick demo for trying things out.")
@click.option("--if-empty", is_flag=True, help="Do nothing when models are already registered.")
@click.option("--reproducible", is_flag=True,
              help="Pseudonymise with the fixed key in the source, so two builds are byte-identical (tests, "
                   "benchmarks); anyone can then reverse the pseudonyms. Default: a random key.")
@_requires("operate_data")
def demo(size: str, if_empty: bool, reproducible: bool) -> None:
    """Create the demo portfolio in an empty data home."""
    from ethics.demo import DEMO_TEAMS, REPRODUCIBLE_PRIVACY_KEY, build_demo

    settings = load_settings()
    if if_empty and registry.list_models(_open(settings)):
        click.echo(f"demo: {settings.home} already holds models; nothing to do")
        key = settings.home / privacy.KEY_FILE
        if key.exists() and key.read_text().strip() == REPRODUCIBLE_PRIVACY_KEY.hex():
            click.echo(f"demo: warning: {settings.home} was built with the public demo key, so its pseudonyms can "
                       "be reversed; move it away and run `make run` again for a home with a random key")
        return
    # No policy passed: the demo writes its ethics.toml into an empty home and reads the home's file,
    # so its snapshots and every later one judge by the same policy.
    summary = build_demo(settings.home, size=size, progress=click.echo, reproducible=reproducible)
    if reproducible:
        click.echo(f"demo: {settings.home} is pseudonymised with the public demo key (--reproducible); its "
                   "pseudonyms can be reversed, so never import real customers into it")
    click.echo(
        f"demo portfolio created in {settings.home} in {summary['seconds']:.1f} s: {summary['models']} models, "
        f"{summary['datasets']} datasets ({summary['rows']:,} rows, weeks {summary['weeks'][0]} to "
        f"{summary['weeks'][-1]}), {summary['snapshots']} snapshots, {summary['consent_events']:,} consent "
        f"events, {summary['incidents']} incidents"
    )
    accounts = auth.create_demo_accounts(_open(settings), teams=DEMO_TEAMS)
    click.echo("\nDemo accounts (passwords are shown only now; reset with `python -m ethics users set-password`):")
    for account in accounts:
        team = f" team {account.team}" if account.team else ""
        click.echo(f"  {account.username:<10} {account.password:<18} {auth.ROLE_LABELS[account.role]}{team}")


@cli.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--artifact", type=click.Path(path_type=Path),
              help="Model file: LightGBM text, XGBoost JSON/UBJ, linear JSON or a skops file "
                   "(default: the manifest's [artifact] file).")
@click.option("--reference", type=click.Path(path_type=Path),
              help="Reference rows (CSV or Parquet): the model's features and the `score` your production system "
                   "gave each row; recomputed here and refused above [policy.equivalence] tolerance.")
@_requires("operate_data")
def register(manifest: Path, artifact: Path | None, reference: Path | None) -> None:
    """Register a model version from MANIFEST (a manifest.toml)."""
    settings = load_settings()
    row = registry.register_model(
        _open(settings), manifest, home=settings.home, artifact_path=artifact, reference=reference,
        policy=settings.policy, actor=_actor()
    )
    sha = row["artifact_sha256"] or "none (scores only)"
    click.echo(f"registered {row['model_id']} {row['version']} (artifact {row['artifact_kind']}, sha256 {sha})")
    click.echo(registry.equivalence_text(row))


@cli.group(name="manifest", cls=_Group)
def manifest_group() -> None:
    """Write a starting manifest for a model."""


@manifest_group.command(name="init")
@click.option("--artifact", type=click.Path(path_type=Path), help="The model file (not for --kind none).")
@click.option("--kind", type=click.Choice(artifacts.ARTIFACT_KINDS), required=True, help="The artifact's format.")
@click.option("--data", "sample", type=click.Path(path_type=Path),
              help="A sample of rows as the model reads them (CSV or Parquet): types, category values, candidate "
                   "sensitive attributes and proxies.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("manifest.toml"), show_default=True,
              help="The manifest to write.")
def manifest_init(artifact: Path | None, kind: str, sample: Path | None, out: Path) -> None:
    """Write a starting manifest from the model (and a sample); replace its TODOs, then register it."""
    from ethics import manifest_init as init
    from ethics.errors import MANIFEST_EXISTS

    if out.exists():
        raise ValidationError(MANIFEST_EXISTS.format(file=out))
    if (artifact is None) != (kind == "none") or (kind == "none" and sample is None):
        raise click.UsageError("give --artifact for a model file, or --kind none with --data for a scores-only model")
    text = init.starting_manifest(kind=kind, artifact=artifact, sample=sample, out=out, policy=load_settings().policy)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    todo = sum(line.count(init.TODO) for line in text.splitlines() if not line.lstrip().startswith("#"))
    click.echo(f"wrote {out}: replace its {todo} TODOs, confirm the commented candidates, then "
               f"python -m ethics register {out}")


@cli.group(name="import", cls=_Group)
def import_() -> None:
    """Import an evaluation set or a scoring batch (CSV or Parquet)."""


def _import_command(kind: str, summary: str) -> click.Command:
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--model", "model_id", required=True, help="Model id.")
    @click.option("--version", required=True, help="Registered version of the model.")
    @click.option("--week", help=WEEK_HELP)
    @_requires("operate_data")
    def command(file: Path, model_id: str, version: str, week: str | None) -> None:
        from ethics import aggregates
        from ethics.weeks import utcnow, week_of

        settings = load_settings()
        where = {"model_id": model_id, "version": version, "week": week or week_of(utcnow()),
                 "home": settings.home, "actor": _actor()}
        if kind == aggregates.KIND:
            row = aggregates.import_aggregates(_open(settings), file, **where)
            what = f"aggregates of {row['rows']:,} leads as dataset {row['id']}"
        else:
            row = datasets.import_dataset(_open(settings), file, kind=kind, **where)  # type: ignore[arg-type]
            what = f"{row['rows']} rows as {datasets.KIND_NAMES[kind]} {row['id']}"
        click.echo(f"imported {what} of {model_id} {version} for {row['week']} (sha256 {row['parquet_sha256']})")

    command.__doc__ = summary
    return click.command(name=kind)(command)


import_.add_command(_import_command("eval", "Import an evaluation set (labelled rows) from FILE."))
import_.add_command(_import_command("scores", "Import a scoring batch (current leads) from FILE."))
import_.add_command(_import_command(
    "aggregates", "Import the statistics of a week (output of `python -m ethics sql`) from FILE."))


def _version_manifest(model_id: str, version: str) -> dict[str, Any]:
    return registry.get_version(_open(load_settings()), model_id, version)["manifest"]


@cli.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--version", required=True, help="Registered version of the model.")
@click.option("--data", "dataset", type=click.Choice(["eval", "scores"]), required=True,
              help="eval: labelled rows; scores: a scoring batch.")
@click.option("--source", default="scored_leads", show_default=True, help="Table or view holding the rows.")
@click.option("--consent", is_flag=True, help="The rows carry a consent_status column.")
@click.option("--team", is_flag=True, help="The rows carry the sales team (consent coverage per team).")
@_requires("operate_data")
def sql(model_id: str, version: str, dataset: str, source: str, consent: bool, team: bool) -> None:
    """Print the statistics SQL of a model version, to run on Spark or a warehouse.

    For a continuous, multiclass or ranking model it prints its cells SQL (no team or consent keys).
    """
    from ethics import warehouse
    from ethics.manifest import outcome_of

    manifest = _version_manifest(model_id, version)
    if outcome_of(manifest) != "binary":
        click.echo(warehouse.render_outcome_sql(manifest, dataset=dataset, source=source))
        return
    click.echo(warehouse.render_sql(manifest, dataset=dataset,  # type: ignore[arg-type]
                                    source=source, consent=consent, team=team))


@cli.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--version", required=True, help="Registered version of the model.")
@click.option("--eval", "eval_file", type=click.Path(path_type=Path), help="Labelled scored rows (CSV or Parquet).")
@click.option("--scores", "scores_file", type=click.Path(path_type=Path), help="Scored rows of a scoring batch.")
@click.option("--engine", type=click.Choice(["pandas", "duckdb"]), default="pandas", show_default=True,
              help="pandas reads the rows into memory; duckdb streams Parquet in bounded memory.")
@click.option("--memory-limit", default="1GB", show_default=True, help="DuckDB memory limit.")
@click.option("--threads", type=int, default=2, show_default=True, help="DuckDB threads.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Statistics file to write (.parquet).")
@_requires("operate_data")
def aggregate(model_id: str, version: str, eval_file: Path | None, scores_file: Path | None, engine: str,
              memory_limit: str, threads: int, out: Path) -> None:
    """Compute the statistics of scored rows where they live, for `import aggregates`."""
    from ethics import aggregates, warehouse
    from ethics.errors import ValidationError

    paths = {k: v for k, v in (("eval", eval_file), ("scores", scores_file)) if v is not None}
    if not paths:
        raise ValidationError("aggregate: give --eval FILE, --scores FILE or both.")
    from ethics.manifest import outcome_of

    options = {"memory_limit": memory_limit, "threads": threads} if engine == "duckdb" else {}
    manifest = _version_manifest(model_id, version)
    if outcome_of(manifest) != "binary":
        statistics = warehouse.outcome_cells(paths, manifest=manifest, engine=engine, **options)
        leads = int(statistics["leads"].sum())
    else:
        statistics = warehouse.compute_statistics(paths, manifest=manifest, engine=engine, **options)
        leads = int(statistics.groupby("dataset")["dataset_leads"].first().sum())
    aggregates.write_parquet(statistics, out)
    click.echo(f"wrote {len(statistics):,} cells describing {leads:,} leads to {out}")


@cli.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--week", help=WEEK_HELP)
@click.option("--version", help="Model version (default: the latest with data that week).")
@_requires("operate_data")
def snapshot(model_id: str, week: str | None, version: str | None) -> None:
    """Evaluate a model for a week and store the immutable snapshot."""
    settings = load_settings()
    row = snapshots.take_snapshot(
        _open(settings), model_id=model_id, week=week, version=version,
        home=settings.home, policy=settings.policy, actor=_actor(),
    )
    click.echo(f"snapshot {row['id']} of {model_id} {row['version']} for {row['week']}: {row['hash']}")
    _echo_headline(row["results"])
    verdicts = row["results"].get("verdicts", [])
    if verdicts:
        counts = {status: sum(v["status"] == status for v in verdicts) for status in ("fail", "warn", "pass")}
        click.echo(f"  fairness: {len(verdicts)} verdicts, " + ", ".join(f"{n} {s}" for s, n in counts.items())
                   + " (python -m ethics fairness --model " + model_id + ")")


def _echo_headline(results: dict[str, Any]) -> None:
    """The headline figures of a snapshot's evaluation set and scoring batch (``outcomes.headline``)."""
    from ethics import outcomes

    for kind, name in (("eval", "evaluation set"), ("scores", "scoring batch")):
        figures = outcomes.headline(results, kind)
        if figures:
            click.echo(f"  {name}: " + ", ".join(f"{f['label']} {f['value']}" for f in figures))


@cli.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--week", help="ISO week of the snapshot (default: the latest snapshot).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot's fairness results as JSON.")
def fairness(model_id: str, week: str | None, as_json: bool) -> None:
    """Print a snapshot's fairness verdicts and group metrics; exit 1 if a verdict fails."""
    db = _open(load_settings())
    registry.visible_model(db, model_id, scope=_reader(db, "view_model").scope)
    snap = snapshots.latest_snapshot(db, model_id, week=week)
    results = snap["results"]
    if as_json:
        _echo_json({key: results.get(key) for key in ("verdicts", "fairness", "sampling", "drift", "source")}
                   | {"snapshot": snap["hash"], "week": snap["week"], "version": snap["version"]})
    else:
        click.echo(f"{model_id} {snap['version']} {snap['week']} snapshot {snap['hash']}")
        _echo_fairness(results)
    if any(v["status"] == "fail" for v in results.get("verdicts", [])):
        raise SystemExit(1)


def _echo_fairness(results: dict[str, Any]) -> None:
    """Each verdict's status and sentence, then the groups of the evaluation set (else the scoring batch).

    Every figure in the unit of its metric (``outcomes.metric_views``): shares as percentages,
    amounts in the model's unit, one column per offer for a next-best-offer model.
    """
    from ethics import outcomes
    from ethics import report_rows as tables

    outcome, unit = results.get("outcome", "binary"), outcomes.results_unit(results)
    offers = results.get("offers", [])
    for verdict in results.get("verdicts", []):
        view = outcomes.disparity_view(outcome, verdict["metric"], unit=unit)
        click.echo(f"{verdict['status'].upper():<8} {verdict['data']:<7} {verdict['grouping']:<24} "
                   f"{verdict['metric']:<30} {verdict['sentence']}")
        click.echo(f"{'':<8} {view.label}: {view.shown.text(verdict['value'])} ({tables.unit_text(view.shown.unit)})")
    assessed = results.get("fairness", {})
    data = "eval" if assessed.get("eval") else "scores"
    views = outcomes.metric_views(outcome, unit=unit, offers=offers)
    for grouping in assessed.get(data, []):
        click.echo(f"\n{grouping['grouping']} ({DATA_NAMES[data]})")
        for group in outcomes.flat_groups(grouping):
            shown = [f"{tables.lower_first(tables.column_heading(view, outcome=outcome, unit=unit))} "
                     f"{view.shown.text(group[key])}" for key, view in views.items() if key in group]
            click.echo(f"  {group['group']:<28} n={int(group['count']):<7} " + ", ".join(shown)
                       + ("" if group["judged"] else "  too few to judge"))
        judged = [v["metric"] for v in results.get("verdicts", [])
                  if (v["data"], v["grouping"]) == (data, grouping["grouping"])]
        for row in tables.strata_disparity_rows(grouping, unit=unit, metrics=judged):
            click.echo(f"  within {row['Control']} {row['Stratum']}: {tables.lower_first(row['Metric'])} "
                       f"{row['Value']} ({row['Unit']}), worst {row['Worst group']} against {row['Compared with']}")
        if "independence" in grouping:
            for row in tables.offer_rows(grouping, offers=offers):
                counts = ", ".join(f"{offer['label']} {row[offer['label']]:,}" for offer in offers)
                click.echo(f"  offers made to {row['Group']}: {counts}")
            click.echo(f"  {tables.independence_text(grouping)}")


@cli.command(name="explain")
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--lead", "lead", help="Lead id (or customer id) in the week's scoring batch.")
@click.option("--global", "global_", is_flag=True, help="Global importance, rank changes and proxy check.")
@click.option("--week", help="ISO week of the snapshot (default: the latest snapshot).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain_command(model_id: str, lead: str | None, global_: bool, week: str | None, as_json: bool) -> None:
    """Explain one lead's score in plain words, or the model's global SHAP importance."""
    if bool(lead) == global_:
        raise click.UsageError("Give either --lead LEAD or --global.")
    settings = load_settings()
    db = _open(settings)
    reader = _reader(db, "view_leads" if lead else "view_model")
    registry.visible_model(db, model_id, scope=reader.scope)
    snap = snapshots.latest_snapshot(db, model_id, week=week)
    if global_:
        _explain_global(snap, as_json)
        return
    found = leads.find_leads(db, home=settings.home, model_id=model_id, query=lead or "", team=reader.scope,
                             snapshot_id=snap["id"])
    if as_json:
        _echo_json(found)
        return
    if found[0]["suspended"]:
        click.echo(f"SUSPENDED: {found[0]['suspended']['text']}")
    for detail in found:
        _echo_lead(detail)


def _explain_global(snap: dict[str, Any], as_json: bool) -> None:
    found = snap["results"].get("explanations") or {}
    if found.get("status") != "available":
        raise ValidationError(leads.NOT_EXPLAINED.format(reason=found.get("reason", "not computed in this snapshot")))
    if as_json:
        _echo_json({"snapshot": snap["hash"], "week": snap["week"], "version": snap["version"], **found})
        return
    click.echo(f"{snap['model_id']} {snap['version']} {snap['week']} snapshot {snap['hash']}")
    click.echo(f"{explain.explainer_text(found)} in {found['output_space']} on {found['rows']} leads, base value "
               f"{found['base_value']:.4f}, additivity max error {found['additivity_max_error']:.2g}")
    for row in found["importance"]:
        change = "new" if row["change"] is None else f"{row['change']:+d}"
        click.echo(f"  {row['rank']:>2}. {row['label']:<40} mean |SHAP| {row['mean_abs_shap']:.4f}  ({change})")
    for proxy in found["proxies"]:
        if proxy.get("note"):  # a sensitive attribute the model reads: the attribute itself, not a proxy
            click.echo(f"INPUT {proxy['note']}")
        if proxy["flagged"]:
            click.echo(f"PROXY {proxy['label']} ~ {proxy['attribute_label']}: Cramér's V {proxy['value']:.2f} "
                       f"> {proxy['threshold']:g}")


def _echo_lead(detail: dict[str, Any]) -> None:
    click.echo(f"{detail['lead_id']} (customer {detail['customer_id']}, team {detail['team']}): score "
               f"{detail['score']:.3f}, {detail['decision']} at threshold {detail['threshold']:g} "
               f"[{detail['model_id']} {detail['version']} {detail['week']}]")
    click.echo(f"  consent {detail['consent']['purpose']}: {detail['consent']['status']} at scoring")
    if detail["contest"]:
        click.echo(f"  already contested: incident {detail['contest']['id']} ({detail['contest']['status']})")
    explanation = detail["explanation"]
    if not explanation["available"]:
        click.echo(f"  {explanation['message']}")
        return
    for direction in ("raising", "lowering"):
        for reason in explanation["reasons"][direction]:
            click.echo(f"  {reason['text']}")
    if explanation["explainer"] == "sampled":
        click.echo(f"  (estimated by {explanation['method']})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the models you may see with their latest snapshot and six lights (incidents and review as of now)."""
    from ethics import lights, portfolio

    db = _open(load_settings())
    scope = _reader(db, "view_portfolio").scope
    registered = {m["id"]: m for m in registry.list_models(db, scope=scope)}
    rows = [row | {key: registered[row["id"]][key] for key in ("latest_version", "versions", "teams", "equivalence")}
            for row in portfolio.overview(db, scope=scope)]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no models registered")
        return
    click.echo(lights.moment_text(datetime.fromisoformat(rows[0]["at"])))
    for row in rows:
        click.echo(f"{row['id']:<24} {row['latest_version'] or '-':<12} {row['latest_week'] or 'no snapshot':<12} "
                   f"team={row['team']:<8} risk={row['risk_tier']:<7} {row['status']:<9} {row['name']}")
        for area in lights.AREAS:
            light = row["lights"][area]
            click.echo(f"    {area:<13} {light['status'].upper():<14} {light['reason']}")
        if row["equivalence"]:  # after the six lights, which stay one block under the model's line
            click.echo(f"    {row['equivalence']}")


@cli.group(cls=_Group)
def incident() -> None:
    """Incidents: add, update, list."""


@incident.command(name="add")
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--severity", type=click.Choice(incidents.SEVERITIES), required=True, help="Sets the due date.")
@click.option("--category", type=click.Choice(incidents.CATEGORIES), required=True, help="Kind of problem.")
@click.option("--title", required=True, help="One line.")
@click.option("--description", default="", help="What was found, and where.")
@click.option("--owner", help="Who works on it.")
@click.option("--lead", "lead_id", help="Linked lead id (evidence).")
@click.option("--snapshot", "snapshot_id", type=int, help="Linked snapshot id (evidence).")
def incident_add(model_id: str, severity: str, category: str, title: str, description: str, owner: str | None,
                 lead_id: str | None, snapshot_id: int | None) -> None:
    """Open an incident against a model (as a sales manager: about the team's leads)."""
    db = _open(load_settings())
    reader = _reader(db, "open_incident")
    registry.visible_model(db, model_id, scope=reader.scope)
    row = incidents.open_incident(
        db, model_id=model_id, severity=severity, category=category, title=title, description=description,
        reporter=_actor(), owner=owner, lead_id=lead_id, snapshot_id=snapshot_id, team=reader.scope,
    )
    click.echo(f"incident {row['id']} opened on {model_id}, due {row['due_at']}")


@incident.command(name="update")
@click.argument("incident_id", type=int)
@click.option("--status", type=click.Choice(incidents.STATUSES), help="New status.")
@click.option("--owner", help="New owner.")
@click.option("--severity", type=click.Choice(incidents.SEVERITIES), help="New severity (moves the due date).")
@click.option("--reason", default="", help="Why; required to move the status backwards.")
@click.option("--comment", help="Add a comment.")
def incident_update(incident_id: int, status: str | None, owner: str | None, severity: str | None, reason: str,
                    comment: str | None) -> None:
    """Change an incident's status, owner or severity, or comment on it."""
    db = _open(load_settings())
    _reader(db, "manage_incidents")
    if comment:
        incidents.add_comment(db, incident_id, author=_actor(), body=comment)
    if status or owner or severity or not comment:
        row = incidents.update_incident(db, incident_id, actor=_actor(), status=status, owner=owner,
                                        severity=severity, reason=reason)
        click.echo(f"incident {incident_id}: {row['status']}, {row['severity']}, owner {row['owner'] or '-'}")
    else:
        click.echo(f"incident {incident_id}: comment added")


@incident.command(name="list")
@click.option("--model", "model_id", help="Only this model.")
@click.option("--status", type=click.Choice(incidents.STATUSES), help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def incident_list(model_id: str | None, status: str | None, as_json: bool) -> None:
    """List the incidents you may see, newest first."""
    db = _open(load_settings())
    rows = incidents.list_incidents(db, model_id=model_id, status=status, scope=_reader(db, "view_incidents").scope)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:>4} {row['status']:<13} {row['severity']:<8} {row['model_id']:<20} "
                   f"due {row['due_at'][:10]}  {row['title']}")


@cli.group(cls=_Group)
def review() -> None:
    """Weekly reviews: what is due."""


@review.command(name="due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for a mail or chat hook).")
def review_due(as_json: bool) -> None:
    """List models whose review is due or overdue this ISO week; exit 1 if one is overdue."""
    db = _open(load_settings())
    _reader(db, "view_reviews")
    rows = reviews.due(db)
    if as_json:
        _echo_json(rows)
    else:
        for row in rows:
            click.echo(f"{row['light']['status'].upper():<5} {row['model_id']:<24} {row['light']['reason']}")
        if not rows:
            click.echo("every model is reviewed this week")
    if any(row["light"]["status"] == "fail" for row in rows):
        raise SystemExit(1)


@cli.group(name="consent", cls=_Group)
def consent_group() -> None:
    """Consent events, coverage per model, violations, human routing."""


@consent_group.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@_requires("operate_data")
def consent_import(file: Path) -> None:
    """Append the consent events of FILE (CSV or Parquet; nothing is written if a row is bad).

    Columns: event_id, customer_id, purpose, status, source, occurred_at.
    """
    count = consent.import_events(_open(load_settings()), file, actor=_actor())
    click.echo(f"appended {count} consent events from {file.name}")


@consent_group.command(name="coverage")
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--week", help="ISO week of the snapshot (default: the latest snapshot).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot's consent results as JSON.")
def consent_coverage(model_id: str, week: str | None, as_json: bool) -> None:
    """Print a snapshot's consent coverage overall and per team; exit 1 if its light fails."""
    from ethics import lights

    db = _open(load_settings())
    scope = _reader(db, "view_consent").scope
    model = registry.visible_model(db, model_id, scope=scope)
    snap = snapshots.latest_snapshot(db, model_id, week=week)
    found = consent.coverage_for(snap["results"].get("consent"), scope=scope)
    light = lights.model_lights(db, model, snap, scope=scope, at=utcnow())["consent"]
    if as_json:
        _echo_json({"consent": found, "light": light, "snapshot": snap["hash"], "week": snap["week"],
                    "version": snap["version"]})
    else:
        click.echo(f"{model_id} {snap['version']} {snap['week']} snapshot {snap['hash']}")
        click.echo(f"{light['status'].upper()}: {light['reason']}")
        for row in (found or {}).get("by_team", []):
            click.echo(f"  team {row['team']!s:<10} scored={row['scored']:<7} coverage={row['coverage']:.1%} "
                       f"without={row['without_consent']} withdrawn={row['after_withdrawal']} "
                       f"objected={row['after_objection']}")
    if light["status"] == "fail":
        raise SystemExit(1)


@consent_group.command(name="violations")
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--week", required=True, help="ISO week of the scoring batch.")
@click.option("--out", type=click.Path(path_type=Path), help="CSV file to write (default: standard output).")
def consent_violations(model_id: str, week: str, out: Path | None) -> None:
    """List the week's leads scored without consent, with the reason, as CSV (formula-safe)."""
    settings = load_settings()
    db = _open(settings)
    scope = _reader(db, "view_consent").scope
    registry.visible_model(db, model_id, scope=scope)
    text = consent.violations_csv(consent.list_violations(db, model_id=model_id, week=week, home=settings.home,
                                                          team=scope),
                                  note=(registry.suspension(db, model_id) or {}).get("text"))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@consent_group.command(name="routing")
@click.option("--team", help="Only this sales team (what its manager sees).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def consent_routing(team: str | None, as_json: bool) -> None:
    """Customers who objected to automated decisions or profiling: route their leads to a human."""
    settings = load_settings()
    db = _open(settings)
    scope = _reader(db, "view_consent").scope
    if scope is not None and team not in (None, scope):
        raise PermissionDenied(f"Not allowed: a sales manager of team {scope!r} sees only the team's customers.")
    rows = consent.list_human_routing(db, home=settings.home, scope=scope or team)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['team']!s:<8} {row['objected_on'][:10]} {row['name'] or row['customer']:<24} "
                   f"{row['purpose']:<11} {row['leads']}")


@cli.group(name="customers", cls=_Group)
def customers_group() -> None:
    """Names and contact details of customers (the one table that holds them)."""


@customers_group.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@_requires("operate_data")
def customers_import(file: Path) -> None:
    """Store customer_id, name, email, phone from FILE (CSV or Parquet)."""
    frame = datasets.read_table(file)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    count = privacy.record_customers(_open(load_settings()), rows, source_name=file.name, actor=_actor())
    click.echo(f"stored {count} customers from {file.name}")


@cli.group(name="dsr", cls=_Group)
def dsr_group() -> None:
    """Data-subject requests: export or erase everything held about one customer."""


@dsr_group.command(name="export")
@click.option("--customer", required=True, help="The customer's id as in the CRM.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="JSON document or long CSV (section, record, field, value).")
@click.option("--out", type=click.Path(path_type=Path), help="File to write (default: standard output).")
@_requires("handle_requests")
def dsr_export(customer: str, fmt: str, out: Path | None) -> None:
    """Export everything held about a customer (the request is recorded)."""
    settings = load_settings()
    export = dsr.export_subject(_open(settings), customer_id=customer, home=settings.home, actor=_actor())
    text = dsr.export_csv(export) if fmt == "csv" else json.dumps(export, indent=2, sort_keys=True, default=str)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@dsr_group.command(name="erase")
@click.option("--customer", required=True, help="The customer's id as in the CRM.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_requires("handle_requests")
def dsr_erase(customer: str, yes: bool) -> None:
    """Erase a customer everywhere they are held, as a resumable job (recorded when done; aggregates stay).

    An erasure that was interrupted is resumed by running the same command again.
    """
    if not yes:
        click.confirm(f"Erase every personal row of customer {customer!r}? This cannot be undone", abort=True)
    settings = load_settings()
    done = dsr.erase_subject(_open(settings), customer_id=customer, home=settings.home, actor=_actor())
    details, job = done["details"], done["job"]
    click.echo(f"erased customer (request {done['id']}, pseudonym {done['pseudonym']}, job {job['id']}: "
               f"{job['steps_done']} of {job['steps']} steps): "
               f"{sum(d['rows_removed'] for d in details['datasets'])} dataset rows in {len(details['datasets'])} "
               f"datasets, {len(details['explanations'])} per-lead explanation file(s) rewritten, "
               f"{details['consent_events']} consent events, {details['customers']} contact record(s), "
               f"{details['incidents']} incident(s) redacted, {details.get('orphans_deleted', 0)} orphan file(s) "
               "deleted")
    kept: dict[tuple[str, str, str], int] = {}
    for place in job["places"]:
        if place["action"] == "retain":
            key = (place["table"], place["column"], place["reason"])
            kept[key] = kept.get(key, 0) + 1
    for (table, column, reason), count in kept.items():
        click.echo(f"kept: {table}.{column} in {count} row(s) ({reason})")
    if done["to_tombstone"]:
        click.echo(f"audit entries whose payload still names the customer (to tombstone): "
                   f"{', '.join(map(str, done['to_tombstone']))}")
    if done.get("chained"):
        click.echo("audit entries that name the customer in their chained actor or object id (payload tombstoned, "
                   f"those fields kept so the chain verifies): {', '.join(map(str, done['chained']))}")


@cli.command()
@click.option("--remove", is_flag=True, help="Delete the orphan files listed.")
@click.option("--min-age", type=float, default=erasure.ORPHAN_MIN_AGE_S, show_default=True,
              help="Seconds: younger orphans may be an import about to commit and are kept.")
@click.option("--json", "as_json", is_flag=True)
@_requires("operate_data")
def doctor(remove: bool, min_age: float, as_json: bool) -> None:
    """List orphan files (unreferenced Parquet, .part leftovers, explanation files) and unfinished erasures."""
    settings = load_settings()
    db = _open(settings)
    found = erasure.orphans(db, settings.home, min_age_s=min_age)
    removed = erasure.remove_orphans(db, settings.home, min_age_s=min_age) if remove else []
    jobs = [j for j in erasure.list_jobs(db) if j["status"] != "done" or j["to_tombstone"]]
    if as_json:
        _echo_json({"orphans": found, "removed": [r["path"] for r in removed],
                    "erasures": [{k: j[k] for k in ("id", "status", "started_at", "to_tombstone")} for j in jobs]})
        return
    gone = {r["path"] for r in removed}
    for orphan in found:
        state = "removed" if orphan["path"] in gone else "kept (recent)" if orphan["recent"] else "orphan"
        click.echo(f"{state}: {orphan['path']} ({orphan['kind']}, {orphan['bytes']} bytes)")
    for job in jobs:
        if job["status"] != "done":
            click.echo(f"erasure job {job['id']} is unfinished ({job['status']}, started {job['started_at']}): "
                       "run `dsr erase` for the customer again to resume it")
        else:
            click.echo(f"erasure job {job['id']}: audit entries to tombstone: "
                       f"{', '.join(map(str, job['to_tombstone']))}")
    click.echo(f"{len(found)} orphan file(s), {len(removed)} removed"
               + ("" if remove or not found else "; run with --remove to delete them"))


@cli.group(name="audit", cls=_Group)
def audit_group() -> None:
    """The tamper-evident audit log: verify, export."""


@audit_group.command(name="verify")
@_requires("view_audit")
def audit_verify() -> None:
    """Check the hash chain, keyed checkpoints and every governance record and file; exit 1 naming what is bad."""
    result = audit.verify(_open(load_settings()))
    click.echo(str(result))
    if not result.ok:
        raise SystemExit(1)


@audit_group.command(name="export")
@click.option("--out", type=click.Path(path_type=Path), help="CSV file to write (default: standard output).")
@_requires("view_audit")
def audit_export(out: Path | None) -> None:
    """Export the whole log as CSV (formula-safe)."""
    text = audit.export_csv(_open(load_settings()))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


def _password_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--password-file`` and ``--password-stdin``; without them the password is asked for, hidden, twice.

    There is no ``--password``: a value on the command line is visible to every user in ``ps``.
    """
    command = click.option("--password-stdin", is_flag=True,
                           help="Read the password from the first line of standard input.")(command)
    return click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False),
                        help="Read the password from the first line of this file.")(command)


def _password(password_file: Path | None, password_stdin: bool) -> str:
    """The new password from the file, standard input or a hidden, confirmed prompt.

    Raises
    ------
    ValidationError
        Both sources given, or the file cannot be read.
    """
    if password_file is not None and password_stdin:
        raise ValidationError("Give the password with --password-file or --password-stdin, not both.")
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{password_file}: the password file cannot be read ({exc}).") from None
        return lines[0] if lines else ""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@cli.group(cls=_Group)
def users() -> None:
    """Manage accounts: add, list, disable, set-password."""


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(auth.ROLES), required=True, help="What the account may do.")
@click.option("--team", help="The sales team (sales managers only).")
@click.option("--name", "display_name", default="", help="Display name (default: the username).")
@_password_options
@_requires("manage_users")
def users_add(username: str, role: str, team: str | None, display_name: str, password_file: Path | None,
              password_stdin: bool) -> None:
    """Add an account USERNAME (the password is asked for unless read from a file or standard input)."""
    password = _password(password_file, password_stdin)
    actor = auth.add_user(_open(load_settings()), username=username, display_name=display_name or username,
                          role=role, team=team, password=password, actor=_actor())
    click.echo(f"added {actor.label} as {actor.username}")


@users.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_requires("view_users")
def users_list(as_json: bool) -> None:
    """List accounts (never their passwords)."""
    rows = auth.list_users(_open(load_settings()))
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        click.echo(f"{row['username']:<16} {row['role']:<15} {row['team'] or '-':<8} {state:<9} {row['display_name']}")


@users.command(name="disable")
@click.argument("username")
@_requires("manage_users")
def users_disable(username: str) -> None:
    """Disable USERNAME: no more sign-ins; open sessions end at their next page."""
    auth.disable_user(_open(load_settings()), username, actor=_actor())
    click.echo(f"disabled {username}")


@users.command(name="set-password")
@click.argument("username")
@_password_options
@_requires("manage_users")
def users_set_password(username: str, password_file: Path | None, password_stdin: bool) -> None:
    """Set a new password for USERNAME (asked for unless read from a file or standard input)."""
    password = _password(password_file, password_stdin)
    auth.set_password(_open(load_settings()), username, password, actor=_actor())
    click.echo(f"password of {username} changed")


@cli.command()
@click.option("--model", "model_id", help="Model id (or --portfolio).")
@click.option("--portfolio", is_flag=True, help="One report on every model: traffic lights and a page per model.")
@click.option("--week", help="ISO week of the snapshot (default: the latest snapshot).")
@click.option("--format", "kind", type=click.Choice(["pdf", "markdown", "json"]), default="pdf", show_default=True,
              help="pdf: the transparency report; markdown/json: the model card.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="File to write.")
def report(model_id: str | None, portfolio: bool, week: str | None, kind: str, out: Path) -> None:
    """Write a model's transparency report (PDF) or model card, or the portfolio report."""
    from ethics import model_card, reports

    if bool(model_id) == portfolio:
        raise ValidationError("report: give exactly one of --model ID or --portfolio.")
    if portfolio and (week or kind != "pdf"):
        raise ValidationError("report --portfolio: always the latest snapshots as PDF (no --week or --format).")
    db = _open(load_settings())
    actor = _reader(db, "export_reports")
    if portfolio:
        content: bytes | str = reports.portfolio_report_pdf(db, actor=actor)
    elif kind == "pdf":
        content = reports.model_report_pdf(db, model_id=model_id, actor=actor, week=week)
    else:
        facts = reports.model_facts(db, model_id=model_id, actor=actor, week=week)
        content = model_card.card_markdown(facts) if kind == "markdown" else model_card.card_json(facts)
    if isinstance(content, bytes):
        out.write_bytes(content)
    else:
        out.write_text(content, encoding="utf-8")
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes)")


@cli.group(name="teams", cls=_Group)
def teams_group() -> None:
    """Sales teams (records): add, list."""


@teams_group.command(name="add")
@click.argument("name")
@_requires("operate_data")
def teams_add(name: str) -> None:
    """Add the sales team NAME (an account's team must be one)."""
    teams.add_team(_open(load_settings()), name, actor=_actor())
    click.echo(f"added team {name}")


@teams_group.command(name="list")
def teams_list() -> None:
    """List the sales teams."""
    for name in teams.list_teams(_open(load_settings())):
        click.echo(name)


@cli.group(name="policy", cls=_Group)
def policy_group() -> None:
    """The policy in force: ethics/default.toml with the data home's ethics.toml merged over it."""


@policy_group.command(name="check")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy_check(file: Path | None) -> None:
    """Validate the policy and print it; exit 2 with the first problem.

    Without FILE, the data home's policy; with FILE, that file as if it were the data
    home's ethics.toml.  Nothing is written.
    """
    if file is None:
        settings = load_settings()
        source, policy = settings.policy_file, settings.policy
    else:
        source, policy = file, load_policy(file)
    click.echo(f"# ethics/default.toml with {source} merged over it" if source else "# ethics/default.toml")
    for line in describe_policy(policy):
        click.echo(line)


def main() -> None:
    """Entry point of ``python -m ethics``."""
    cli(prog_name="python -m ethics")
