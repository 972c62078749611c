"""Baselines: gate a legacy archive on *new* AI only (detect-secrets' baseline, gitleaks'
``--baseline-path``).

``deliverscan baseline create REPORT.json -o baseline.json`` turns the findings of a reviewed
scan into a file of accepted findings, each identified by its fingerprint (detector, rule,
location, value: the evidence itself) and the file it was in (path and content SHA-256, so a
rename keeps the acceptance and an edit that changes the evidence does not).
``deliverscan scan --baseline baseline.json`` then marks every finding found in it as accepted:
it stays in every report (``approval.source = "baseline"``), counted apart, and does not fail
the run; anything not in the baseline fails as usual.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from detectors.api import sha256_file
from detectors.model import Approval, Finding, path_from_fields
from scanner.usererror import UserError

SCHEMA = "deliverscan.baseline/1"


class BaselineError(ValueError):
    """A baseline file that cannot be used."""


@dataclass(frozen=True)
class Baseline:
    source: str  # the file, for messages and the approval text
    created: str
    by_path: frozenset[tuple[str, str]]  # (normalised path, fingerprint)
    by_content: frozenset[tuple[str, str]]  # (sha256, fingerprint)

    @property
    def needs_hash(self) -> bool:
        return bool(self.by_content)

    @classmethod
    def load(cls, path: str) -> Baseline:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise BaselineError(f"baseline {path}: cannot read: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or \
                not isinstance(doc.get("entries"), list):
            raise BaselineError(f"baseline {path}: not a {SCHEMA} file "
                                "(make one with: deliverscan baseline create REPORT.json)")
        by_path, by_content = set(), set()
        for n, e in enumerate(doc["entries"]):
            if not isinstance(e, dict) or not isinstance(e.get("fingerprint"), str):
                raise BaselineError(f"baseline {path}: entry {n} has no fingerprint")
            if isinstance(e.get("path"), str):
                by_path.add((os.path.normpath(e["path"]), e["fingerprint"]))
            if isinstance(e.get("sha256"), str):
                by_content.add((e["sha256"], e["fingerprint"]))
        return cls(os.path.abspath(path), str(doc.get("created", "")), frozenset(by_path),
                   frozenset(by_content))

    def accept(self, findings: Sequence[Finding], path: str,
               sha256: str | None) -> tuple[Finding, ...]:
        """``findings`` with the ones the baseline holds marked accepted (new objects)."""
        norm = os.path.normpath(path)
        out = []
        for f in findings:
            fp = f.fingerprint
            if f.approval is None and ((norm, fp) in self.by_path
                                       or (sha256 and (sha256, fp) in self.by_content)):
                f = dataclasses.replace(f, approval=Approval(
                    ref="baseline", by=os.path.basename(self.source),
                    reason=f"accepted in the baseline of {self.created or 'an earlier scan'}",
                    date=self.created[:10], sha256=sha256 or "", source="baseline"))
            out.append(f)
        return tuple(out)


def entries_from_report(doc: dict[str, Any], hash_files: bool = True) -> list[dict[str, Any]]:
    """One entry per finding of a JSON report (approved ones too: they were accepted)."""
    out = []
    results: list[dict[str, Any]] = []
    for r in doc.get("results") or []:
        seq = r.get("sequence")  # an image sequence: its findings belong to its frames
        results.extend(seq.get("frames") or [] if seq else [r])
    for r in results:
        findings = r.get("findings") or []
        if not findings:
            continue
        path = path_from_fields(r)
        sha = r.get("sha256")
        if sha is None and hash_files:
            try:
                sha = sha256_file(path)
            except OSError:
                sha = None
        for d in findings:
            f = Finding.from_dict(d)
            out.append({"fingerprint": f.fingerprint, "path": r["path"], "sha256": sha,
                        "detector": f.detector, "rule": f.rule, "verdict": f.verdict,
                        "location": f.location, "value": f.value, "reviewed": False,
                        "note": ""})
    return out


@click.group("baseline")
def baseline() -> None:
    """Baselines: accept the findings of a reviewed scan, fail only on new ones."""


@baseline.command("create")
@click.argument("report", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True,
              help="The baseline file to write.")
@click.option("--no-hash", is_flag=True,
              help="Do not hash the files (entries then match by path only).")
def create_cmd(report: str, output: str, no_hash: bool) -> None:
    """Make a baseline from a JSON report (deliverscan scan --format json -o REPORT.json)."""
    try:
        with open(report, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UserError(f"{report}: not a JSON report: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != "deliverscan.report/1":
        raise UserError(f"{report}: not a deliverscan JSON report (--format json)")
    entries = entries_from_report(doc, hash_files=not no_hash)
    out = {"schema": SCHEMA, "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
           "source_report": os.path.abspath(report), "roots": doc.get("roots", []),
           "entries": entries}
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    files = len({e["path"] for e in entries})
    click.echo(f"baseline {output}: {len(entries)} finding(s) in {files} file(s) accepted; "
               "review them, then scan with --baseline", err=True)


@baseline.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def show_cmd(path: str) -> None:
    """List what a baseline accepts."""
    try:
        Baseline.load(path)
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (BaselineError, OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{path}: created {doc.get('created')}, {len(doc['entries'])} finding(s)")
    for e in doc["entries"]:
        mark = "reviewed" if e.get("reviewed") else "not reviewed"
        click.echo(f"  {e.get('fingerprint')} {e.get('rule')} {e.get('path')} [{mark}]")


commands = [baseline]
