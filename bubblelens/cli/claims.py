"""`bubblelens claims check|revise`: can each claim's verdict go either way, and recording a rule change.

A Typer sub-app mounted by cli/main.py. `check` applies every claim's rule to constructed evidence at a
profile's sizes (claims/check.py, claims/reachability.py) and prints which verdicts each can reach; in
quick and full a claim with an unreachable verdict fails the check (exit 3, naming it), in smoke it is
labelled "cannot be decided at smoke size". A claim whose statistic, probe or simulation raises (anything
but too little evidence) stops the check with exit 1 naming the claim (`ClaimError`, core/errors.py), as
it stops a build: a bug is not a verdict. `revise` appends a revision entry (date, what, why) to a
claim in claims.toml and refreshes its line in the lock file (claims/history.py).
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bubblelens.core.config import PROFILES
from bubblelens.core.errors import DataError, UsageError
from bubblelens.core.resources import DATA_DIR, curated

app = typer.Typer(help="Check that every claim's verdict could go either way; record a revision of a rule.",
                  no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", help="Curated-data directory (claims.toml, market/).",
                                       file_okay=False)]


def _specs(data: Path):
    from bubblelens.claims.registry import load_registry
    from bubblelens.claims.statistics import KINDS

    return load_registry(curated(data, "claims.toml"), KINDS)


@app.command("check")
def check(profile: str = typer.Option("quick", "--profile", help="Sizes of this profile: smoke, quick or full."),
          out: Path = typer.Option(Path("reports"), "--out",
                                   help="A build of that profile here gives the real sizes and design facts."),
          data: DataOpt = DATA_DIR,
          as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Which verdicts each claim can reach at a profile's sample sizes; exit 3 if one is unreachable
    in quick or full, exit 1 if a claim's statistic, probe or simulation fails."""
    from bubblelens.claims.check import build_evidence, skeleton_evidence
    from bubblelens.claims.engine import check_claim, evaluate_claim, verdict_probabilities
    from bubblelens.claims.kinds import VERDICTS
    from bubblelens.core.config import profile_config
    from bubblelens.external.views import load_evidence_market
    from bubblelens.market.reference import published_results

    if profile not in PROFILES:
        raise UsageError(f"--profile: unknown profile '{profile}'; choose one of: {', '.join(PROFILES)}")
    specs = _specs(data)
    market, published = load_evidence_market(data), published_results(data)
    evidence = build_evidence(out, profile, market, published)
    source = f"the {profile} build in {out}" if evidence is not None else \
        f"the {profile} profile's configuration (no {profile} build in {out}: FLOPs and other design facts unseen)"
    if evidence is None:
        evidence = skeleton_evidence(profile_config(profile), market, published)
    # Each claim's verdict on the evidence first, so that a statistic that raises is named as such rather
    # than through the probes that reuse it; the verdict is the "observed" row of its probabilities (on a
    # profile's skeleton, sizes only, a model claim has no values to fit, and says so).
    verdicts = [evaluate_claim(s, evidence).verdict for s in specs]
    checks = [check_claim(s, evidence) for s in specs]
    odds = [verdict_probabilities(s, evidence, v) for s, v in zip(specs, verdicts)]
    if as_json:
        typer.echo(json.dumps({"sizes_from": source, "claims": [{**c.to_json(), "operating": o.to_json()}
                                                                for c, o in zip(checks, odds)]}, indent=2))
    else:
        table = Table(title=f"Reachable verdicts at {profile} sizes (from {source})", title_justify="left")
        for col in ("claim", "reachable", "unreachable", "status"):
            table.add_column(col)
        for c in checks:
            table.add_row(c.claim_id, ", ".join(c.reach.verdicts), ", ".join(c.reach.missing) or "—", c.status)
        Console(soft_wrap=True).print(table)
        table = Table(title="Probability of each verdict under alternatives fitted to the data (claims/operating.py)",
                      title_justify="left")
        for col in ("claim", "verdict", "scenario", *VERDICTS, "settled"):
            table.add_column(col)
        for c, o in zip(checks, odds):
            if not o.scenarios:
                table.add_row(c.claim_id, o.observed, o.unavailable, "", "", "", "—")
            for i, sc in enumerate(o.scenarios):
                table.add_row(c.claim_id if i == 0 else "", o.observed if i == 0 else "", sc.name,
                              *(f"{sc.probabilities[v]:.2f}" for v in VERDICTS),
                              ("yes" if o.settled else "no") if i == 0 else "")
        Console(soft_wrap=True).print(table)
    from bubblelens.claims import history

    problems = history.lock_problems(specs, curated(data, "claims.lock"))
    if problems:
        raise DataError("claims check: " + " ".join(problems))
    failing = [c for c in checks if c.fails]
    if failing:
        raise DataError(f"claims check: at {profile} sizes " + "; ".join(
            f"{c.claim_id} cannot reach {' or '.join(c.reach.missing)}" for c in failing)
            + " — its verdict would be settled by the rule's design, not by the data")


@app.command("revise")
def revise(claim_id: str = typer.Argument(..., help="The claim whose rule changed, e.g. gan-mode-dropping."),
           why: str = typer.Option(..., "--why", help="Why the rule changed (one sentence)."),
           what: Optional[str] = typer.Option(None, "--what", help="What changed (default: derived from the rule)."),
           data: DataOpt = DATA_DIR,
           on: Optional[str] = typer.Option(None, "--date", help="Date of the revision (default: today, ISO).")) -> None:
    """Record a revision of a claim's rule in claims.toml and refresh its entry in claims.lock."""
    from bubblelens.claims import history

    day = on or date.today().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise UsageError(f"--date: {day!r} is not an ISO date (YYYY-MM-DD)") from None
    if not why.strip():
        raise UsageError("--why must say why the rule changed")
    registry = curated(data, "claims.toml")
    if not registry.is_file():
        raise DataError(f"{registry}: claims registry not found")
    lock = curated(data, "claims.lock")
    history.revise(registry, lock, claim_id, why.strip(), day, what)
    typer.echo(f"{claim_id}: revision of {day} recorded in {registry} and {lock}")
