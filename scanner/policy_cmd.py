"""``deliverscan approve`` and ``deliverscan policy check``: record approvals in a policy file
(comments and order kept, via tomlkit) and audit a policy against the trees it governs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import os
import stat
import sys
import tempfile

import click
import tomlkit
from tomlkit.exceptions import TOMLKitError

from detectors.api import sha256_file
from detectors.model import display_path
from scanner.policy import OVERRIDABLE, Policy, PolicyError
from scanner.usererror import UserError
from scanner.walk import Walker

NEW_POLICY_HEADER = (
    "deliverscan policy (format: docs/policy.md).",
    "Keep it outside the delivery tree: content under review must not waive itself.",
)


def _parse_date(value: str | None, what: str) -> _dt.date | None:
    if value is None:
        return None
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-06-30, got {value!r}",
                                 param_hint=what) from None


def _load_document(path: str) -> tomlkit.TOMLDocument:
    if not os.path.exists(path):
        doc = tomlkit.document()
        for line in NEW_POLICY_HEADER:
            doc.add(tomlkit.comment(line))
        doc.add("fail_on", ["ai"])
        return doc
    try:
        Policy.load(path)  # refuse to touch a policy that is already broken
        with open(path, encoding="utf-8") as fh:
            return tomlkit.parse(fh.read())
    except PolicyError as exc:
        raise click.ClickException(f"{exc}\n(fix the policy first; nothing was written)") from None
    except TOMLKitError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _write_atomically(path: str, text: str) -> None:
    """Write next to the target then rename, so a crash never leaves half a policy."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".policy-", suffix=".toml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _findings_summary(path: str, policy: Policy, rules: tuple[str, ...]) -> str:
    """What the new approval will waive on this file as it is now (one detector pass)."""
    from scanner.configure import configure
    from scanner.explain import scan_one

    config, detectors = configure([path], policy=dataclasses.replace(policy, approvals=[],
                                                                     warnings=[]),
                                  allow_empty=True)
    *members, ex = scan_one(path, config, detectors)
    if members:
        raise UserError(f"{path} is an archive: approvals key on a file's content, so approve "
                        "the member files themselves (extracted), or accept a reviewed archive "
                        "with a baseline")
    findings = ex.result.findings
    if not findings:
        return "no findings now (the approval is recorded anyway)"
    waivable = [f for f in findings if policy.mode_for(f) == OVERRIDABLE
                and (not rules or any(fnmatch.fnmatchcase(f.rule, r) for r in rules))]
    blocked = [f.rule for f in findings if policy.mode_for(f) != OVERRIDABLE]
    text = f"waives {len(waivable)} of {len(findings)} finding(s)"
    if waivable:
        text += f" ({', '.join(sorted({f.rule for f in waivable}))})"
    if blocked:
        text += f"; blocking by policy, cannot be approved: {', '.join(sorted(set(blocked)))}"
    return text


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--policy", "policy_path", required=True, type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML to append to (created when absent).")
@click.option("--ref", required=True, help="Approval reference (ticket, contract clause).")
@click.option("--by", "by", required=True, help="Who approved it.")
@click.option("--reason", required=True, help="Why this AI use may ship.")
@click.option("--expires", default=None, metavar="YYYY-MM-DD", help="Last day it is valid.")
@click.option("--rule", "rules", multiple=True, metavar="RULE_ID",
              help="Waive only these rule ids (globs allowed; repeatable). Default: every "
                   "overridable finding of the file.")
@click.option("--path-glob", default=None, metavar="GLOB",
              help="Waive only where the file sits at a path matching GLOB.")
@click.option("--no-scan", is_flag=True, help="Do not run the detectors to say what it waives.")
def approve(files: tuple[str, ...], policy_path: str, ref: str, by: str, reason: str,
            expires: str | None, rules: tuple[str, ...], path_glob: str | None,
            no_scan: bool) -> None:
    """Approve FILE(s): append an approval keyed by each file's SHA-256 to the policy.

    A rename keeps the approval; any edit of the content voids it."""
    today = _dt.date.today()
    until = _parse_date(expires, "--expires")
    if until is not None and until < today:
        raise click.BadParameter(f"{expires} is already past", param_hint="--expires")
    for text, hint in ((ref, "--ref"), (by, "--by"), (reason, "--reason")):
        if not text.strip():
            raise click.BadParameter("must not be empty", param_hint=hint)
    doc = _load_document(policy_path)
    current = Policy.loads(tomlkit.dumps(doc), policy_path)
    if "approvals" not in doc:
        doc.add(tomlkit.nl())
        doc.add("approvals", tomlkit.aot())
    table_list = doc["approvals"]
    added = 0
    for file in files:
        try:
            digest = sha256_file(file)
            size = os.stat(file).st_size
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
        if any(a.sha256 == digest and a.ref == ref.strip() and a.rules == rules
               and a.path == (path_glob or "") for a in current.approvals):
            click.echo(f"{display_path(file)}: already approved under {ref}; not added", err=True)
            continue
        entry = tomlkit.table()
        if not tomlkit.dumps(doc).endswith("\n\n"):
            entry.trivia.indent = "\n"
        entry.add("sha256", digest)
        entry.add("file", display_path(os.path.basename(file)))
        entry.add("size", size)
        if path_glob:
            entry.add("path", path_glob)
        if rules:
            entry.add("rules", list(rules))
        entry.add("ref", ref.strip())
        entry.add("by", by.strip())
        entry.add("reason", reason.strip())
        entry.add("date", today)
        if until is not None:
            entry.add("expires", until)
        table_list.append(entry)
        added += 1
        what = "" if no_scan else f": {_findings_summary(file, current, rules)}"
        click.echo(f"approved {display_path(file)} sha256 {digest[:16]}… as {ref}{what}")
    text = tomlkit.dumps(doc)
    Policy.loads(text, policy_path)  # never write a policy we could not read back
    if added:
        _write_atomically(policy_path, text)
        click.echo(f"{added} approval(s) written to {policy_path}")


@click.group("policy")
def policy() -> None:
    """Validate and audit policy files."""


@policy.command("check")
@click.argument("policy_path", metavar="POLICY", type=click.Path(exists=True, dir_okay=False))
@click.argument("trees", nargs=-1, type=click.Path(exists=True))
def check(policy_path: str, trees: tuple[str, ...]) -> None:
    """Validate POLICY; list expired approvals and, given TREE(s), stale ones (whose content is
    no longer in any tree).

    Exit codes: 0 valid and nothing stale or expired, 1 stale or expired approvals, 2 invalid."""
    try:
        pol = Policy.load(policy_path)
    except PolicyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    pol.warn_if_inside(trees)
    modes = ", ".join(f"{k}={v}" for k, v in {**pol.detector_modes, **pol.rule_modes}.items())
    click.echo(f"{policy_path}: valid; fail_on {', '.join(sorted(pol.fail_on))}; default mode "
               f"{pol.default_mode}{'; ' + modes if modes else ''}; "
               f"{len(pol.approvals)} approval(s)")
    problems = 0
    for a in pol.expired_approvals():
        problems += 1
        click.echo(f"expired: {a.label()} {a.file or a.sha256[:16]} expired on {a.expires}")
    if trees and pol.approvals:
        found = _locate(pol, trees)
        for a in pol.approvals:
            where = found.get(a.sha256, [])
            if not where:
                problems += 1
                click.echo(f"stale: {a.label()} {a.file or ''} sha256 {a.sha256[:16]}… is in "
                           f"none of {', '.join(trees)}")
                continue
            shown = ", ".join(display_path(p) for p in where[:3]) + (
                f" (+{len(where) - 3} more)" if len(where) > 3 else "")
            glob_note = ""
            if a.path and not any(a.path_matches(p) for p in where):
                glob_note = f" — but none matches its path glob {a.path!r}, so it waives nothing"
                problems += 1
            click.echo(f"in use: {a.label()} → {shown}{glob_note}")
    for w in pol.warnings:
        click.echo(f"warning: {w}", err=True)
    sys.exit(1 if problems else 0)


def _locate(pol: Policy, trees: tuple[str, ...]) -> dict[str, list[str]]:
    """Where each approved hash is found in the trees. When every approval records its size,
    only files of those sizes are hashed (hashing is the one full read)."""
    sizes = {a.size for a in pol.approvals}
    filter_sizes = None not in sizes
    wanted = {a.sha256 for a in pol.approvals}
    found: dict[str, list[str]] = {}
    for asset in Walker().walk(list(trees)):
        if asset.skip_reason or asset.walk_error:
            continue
        if filter_sizes and asset.size not in sizes:
            continue
        try:
            digest = sha256_file(asset.path)
        except OSError as exc:
            click.echo(f"warning: cannot hash {display_path(asset.path)}: {exc}", err=True)
            continue
        if digest in wanted:
            found.setdefault(digest, []).append(asset.path)
    return found


commands = [approve, policy]
