"""``deliverscan rules``: every rule id every installed detector can report (id, verdict, tier,
what it means, where it is documented), so a policy author can write ``[rules]`` modes and
approvals with ids that exist, and a reviewer can see what a finding's rule id means."""

from __future__ import annotations

import json

import click

from detectors.registry import catalog


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@click.option("--verbose", "-v", is_flag=True, help="Also show fields, tool and reference.")
@click.option("--detector", "only", multiple=True, metavar="NAME", help="Only these detectors.")
def rules(as_json: bool, verbose: bool, only: tuple[str, ...]) -> None:
    """List every detector's rules (id, verdict, tier, meaning)."""
    cat = catalog()
    unknown = [n for n in only if cat.get(n) is None]
    if unknown:
        raise click.UsageError(f"unknown detector(s) {', '.join(unknown)} "
                               f"(known: {', '.join(cat.names())})")
    found = [r for r in cat.rules() if not only or r.detector in only]
    about = cat.about()
    if as_json:
        click.echo(json.dumps({
            "detectors": {name: about.get(name, {}) for name in cat.names()
                          if not only or name in only},
            "undeclared": cat.undeclared(),
            "rules": [{"id": r.id, "detector": r.detector, "verdict": r.verdict, "tier": r.tier,
                       "title": r.title, "tool": r.tool, "fields": list(r.fields),
                       "reference": r.reference} for r in found]},
            ensure_ascii=False, indent=2))
        return
    for name in cat.names():
        if only and name not in only:
            continue
        mine = [r for r in found if r.detector == name]
        data = ", ".join(f"{k} {v}" for k, v in about.get(name, {}).items())
        click.echo(f"{name}: {len(mine)} rules" + (f" ({data})" if data else ""))
        for r in mine:
            verdict = "from table" if r.verdict == "table" else r.verdict
            click.echo(f"  {r.id:<44} {verdict:<10} {r.tier:<9} {r.title}")
            if verbose:
                if r.fields:
                    click.echo(f"      fields: {', '.join(r.fields)}")
                if r.tool:
                    click.echo(f"      tool: {r.tool}")
                if r.reference:
                    click.echo(f"      reference: {r.reference}")
    for name in cat.undeclared():
        click.echo(f"{name}: does not list its rules")


commands = [rules]
