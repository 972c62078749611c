"""``deliverscan rules``: every rule of the metadata rule pack (id, tool, fields, verdict, tier),
so a reviewer can see what a finding's rule id means and a maintainer what a new rule adds."""

from __future__ import annotations

import json

import click

from detectors.rules import RuleError, all_rules, pack_version


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@click.option("--verbose", "-v", is_flag=True, help="Also show match, reference and fixtures.")
def rules(as_json: bool, verbose: bool) -> None:
    """List the metadata rules (id, tool, fields, verdict, tier)."""
    try:
        pack = all_rules()
        version = pack_version()
    except RuleError as exc:
        raise click.ClickException(f"rule pack invalid: {exc}") from None
    if as_json:
        click.echo(json.dumps({"version": version, "rules": [
            {"id": r.id, "tool": r.tool, "fields": list(r.fields), "match": r.describe_match(),
             "verdict": r.verdict, "tier": r.tier, "secret": r.secret, "fallback": r.fallback,
             "reference": r.reference, "fixtures": list(r.fixtures)} for r in pack]},
            ensure_ascii=False, indent=2))
        return
    click.echo(f"metadata rule pack {version}: {len(pack)} rules")
    for r in pack:
        verdict = "from table" if r.verdict == "table" else r.verdict
        flags = " (fallback)" if r.fallback else ""
        click.echo(f"{r.id:<30} {verdict:<10} {r.tier:<9} {r.tool}{flags}")
        fields = ", ".join(r.fields)
        click.echo(f"    fields: {fields}")
        if verbose:
            click.echo(f"    match: {r.describe_match()}")
            click.echo(f"    reference: {r.reference}")
            click.echo(f"    fixtures: {', '.join(r.fixtures)}")


commands = [rules]
