"""Policy: which findings block a delivery, and which recorded approvals waive them.

The policy is given explicitly (``--policy`` or ``DELIVERSCAN_POLICY``); one inside the scanned
tree is never picked up, so content under review cannot waive itself.

Model (after Netflix Backlot's inspection codes and the QC suites' test plans): every finding
gets a *mode* from the policy: ``blocking`` (fails the run, cannot be approved),
``overridable`` (fails the run unless a recorded approval waives it) or ``off`` (dropped,
counted in coverage). Approvals are keyed by the asset's SHA-256, so a rename keeps them and an
edit voids them (the detect-secrets / gitleaks fingerprint idea). The file format is described
in docs/policy.md.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.api import Options
from detectors.model import AI, REVIEW, Approval, Finding
from detectors.registry import Catalog, catalog

BLOCKING = "blocking"
OVERRIDABLE = "overridable"
OFF = "off"
MODES = (BLOCKING, OVERRIDABLE, OFF)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TOP_KEYS = {"version", "fail_on", "default_mode", "detectors", "rules", "approvals"}
APPROVAL_KEYS = {"sha256", "path", "rules", "ref", "by", "reason", "date", "expires",
                 "file", "size"}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Judged:
    """What the policy makes of one asset's findings (see ``Policy.judge``)."""

    findings: tuple[Finding, ...]
    dropped: dict[str, int]  # detector -> findings turned off
    blocking: bool


@dataclass(frozen=True)
class ApprovalEntry:
    """One ``[[approvals]]`` entry as written in the policy."""

    sha256: str
    ref: str
    by: str
    reason: str
    date: str = ""
    expires: str = ""
    path: str = ""  # optional glob narrowing the approval to where the file sits
    rules: tuple[str, ...] = ()  # optional rule ids (globs) narrowing it to some findings
    file: str = ""  # informational: the name when approved
    size: int | None = None  # informational; lets ``policy check`` skip files of other sizes
    line: int = 0
    index: int = 0

    def label(self) -> str:
        return f"approval {self.ref or '#' + str(self.index + 1)}" + (
            f" (line {self.line})" if self.line else "")

    def expired(self, today: _dt.date) -> bool:
        return bool(self.expires) and _dt.date.fromisoformat(self.expires) < today

    def path_matches(self, path: str) -> bool:
        return not self.path or path_glob_matches(self.path, path)

    def rule_matches(self, rule: str) -> bool:
        return not self.rules or any(fnmatch.fnmatchcase(rule, r) for r in self.rules)

    def to_approval(self) -> Approval:
        return Approval(ref=self.ref, by=self.by, reason=self.reason, date=self.date,
                        expires=self.expires, sha256=self.sha256)


def path_glob_matches(pattern: str, path: str) -> bool:
    """``pattern`` against the path as scanned and against each of its trailing parts, so that
    ``plates/*.exr`` matches ``/mnt/delivery/plates/bg.exr`` whatever root was given."""
    norm = path.replace(os.sep, "/")
    parts = norm.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


class _Lines:
    """Where things are in the policy source, for error messages with line numbers.

    tomllib reports syntax errors with positions but returns plain data; this scans the text
    for table headers and keys (the layout ``approve`` writes and people write by hand)."""

    HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str, int, str], int] = {}
        self.headers: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        for n, line in enumerate(text.splitlines(), 1):
            m = self.HEADER.match(line)
            if m:
                table = ".".join(p.strip().strip("\"'") for p in m.group(2).split("."))
                if m.group(1) == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
                else:
                    index = 0
                self.headers.setdefault((table, index), n)
                continue
            k = self.KEY.match(line)
            if k:
                self.keys.setdefault((table, index, k.group(1).strip("\"'")), n)

    def of(self, table: str, index: int = 0, key: str | None = None) -> int:
        if key is not None and (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        return self.headers.get((table, index), 0)


def _date_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return _dt.date.fromisoformat(value.strip()).isoformat()
    raise ValueError(f"not a date: {value!r}")


@dataclass
class Policy:
    fail_on: frozenset[str] = frozenset({AI})
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
    default_mode: str = OVERRIDABLE
    detector_modes: dict[str, str] = field(default_factory=dict)
    rule_modes: dict[str, str] = field(default_factory=dict)  # id or glob -> mode
    detector_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: list[ApprovalEntry] = field(default_factory=list)
    today: _dt.date | None = None  # fixed in tests; today's date otherwise
    text_sha256: str = ""  # of the policy source text ("" for the built-in default)
    _warned: set[str] = field(default_factory=set, repr=False)

    @property
    def digest(self) -> str:
        """Identifies the policy's effect on results: everything ``judge`` reads (a policy
        built in code has no source text, and one loaded from text can be changed after)."""
        effective = [self.text_sha256, sorted(self.fail_on), self.default_mode,
                     sorted(self.detector_modes.items()), sorted(self.rule_modes.items()),
                     self.detector_options, [dataclasses.astuple(a) for a in self.approvals],
                     self.today.isoformat() if self.today else None]
        text = json.dumps(effective, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def default(cls, fail_on_review: bool = False) -> Policy:
        return cls(fail_on=frozenset({AI, REVIEW}) if fail_on_review else frozenset({AI}))

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str, cat: Catalog | None = None) -> Policy:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise PolicyError(f"{path}:{line}: policy is not UTF-8 text") from None
        return cls.loads(text, path, cat)

    @classmethod
    def loads(cls, text: str, path: str = "<policy>", cat: Catalog | None = None) -> Policy:
        """Parse and validate a policy. Detector names, their settings and rule ids are
        checked against what the installed detectors declare (``cat``, default: all)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            if m:
                where = f"{m.group(1)}:{m.group(2)}"
            else:  # "(at end of document)"
                where = f"{text.count(chr(10)) + 1}:{len(text.rsplit(chr(10), 1)[-1]) + 1}"
            msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
            raise PolicyError(f"{path}:{where}: TOML syntax error: {msg}") from None
        lines = _Lines(text)
        errors: list[str] = []
        cat = cat if cat is not None else catalog()
        rule_ids = {r.id for r in cat.rules()}
        open_ended = cat.undeclared()

        def err(line: int, msg: str) -> None:
            errors.append(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")

        def known_rule(rule: str, line: int, where: str) -> None:
            """A rule id (or glob) must name what some detector can report: a misspelt id
            would silently change nothing."""
            if any(c in rule for c in "*?["):
                hit = any(fnmatch.fnmatchcase(r, rule) for r in rule_ids)
                what = f"{where}: {rule!r} matches no rule id"
            else:
                hit = rule in rule_ids
                what = f"{where}: unknown rule id {rule!r}"
            if hit:
                return
            if open_ended:  # a plugin that does not list its rules may report it
                policy.warnings.append(f"{path}:{line}: {what} of the detectors that list "
                                       f"theirs (not checked: {', '.join(open_ended)})")
            else:
                err(line, f"{what} (deliverscan rules lists them)")

        policy = cls(source=os.path.abspath(path) if path != "<policy>" else None,
                     text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
        base_dir = os.path.dirname(os.path.abspath(path))
        for key in data:
            if key not in TOP_KEYS:
                err(lines.of("", 0, key), f"unknown key {key!r} (known: {', '.join(sorted(TOP_KEYS))})")

        version = data.get("version", 1)
        if version != 1:
            err(lines.of("", 0, "version"), f"unsupported policy version {version!r} (this tool reads 1)")

        fail_on = data.get("fail_on", [AI])
        if isinstance(fail_on, str):
            fail_on = [fail_on]
        if (not isinstance(fail_on, list) or not fail_on
                or not all(isinstance(v, str) and v in (AI, REVIEW) for v in fail_on)):
            err(lines.of("", 0, "fail_on"),
                f"fail_on must be \"ai\" or [\"ai\", \"review\"], got {data.get('fail_on')!r}")
        else:
            policy.fail_on = frozenset(fail_on)

        default_mode = data.get("default_mode", OVERRIDABLE)
        if default_mode not in (BLOCKING, OVERRIDABLE):
            err(lines.of("", 0, "default_mode"),
                f"default_mode must be \"blocking\" or \"overridable\", got {default_mode!r}")
        else:
            policy.default_mode = default_mode

        detectors = data.get("detectors", {})
        if not isinstance(detectors, dict):
            err(lines.of("", 0, "detectors"), "detectors must be a table of [detectors.<name>]")
            detectors = {}
        for name, section in detectors.items():
            where = f"detectors.{name}"
            if not isinstance(section, dict):
                err(lines.of("detectors", 0, name) or lines.of(where),
                    f"[{where}] must be a table")
                continue
            if name not in cat.names():
                err(lines.of(where) or lines.of("detectors", 0, name),
                    f"unknown detector {name!r} (known: {', '.join(cat.names())})")
                continue
            specs = cat.options(name)
            opts: dict[str, Any] = {}
            for key, value in section.items():
                line = lines.of(where, 0, key)
                if key == "mode":
                    if value not in MODES:
                        err(line, f"{where}.mode must be one of {', '.join(MODES)}, got {value!r}")
                    else:
                        policy.detector_modes[name] = value
                    continue
                spec = specs.get(key)
                if spec is None:
                    err(line, f"{where}: unknown key {key!r} (known: "
                              f"{', '.join(['mode', *specs])})")
                    continue
                try:
                    parsed = spec.parse(value)
                except ValueError as exc:
                    err(line, f"{where}.{key} {exc}")
                    continue
                if spec.path and parsed is not None:
                    parsed = os.path.join(base_dir, os.path.expanduser(parsed))
                    if not os.path.isfile(parsed):
                        err(line, f"{where}.{key}: no such file {parsed}")
                        continue
                opts[key] = parsed
            policy.detector_options[name] = opts

        rules = data.get("rules", {})
        if not isinstance(rules, dict):
            err(lines.of("", 0, "rules"), "rules must be a table: \"rule.id\" = \"mode\"")
            rules = {}
        for rule, mode in rules.items():
            line = lines.of("rules", 0, rule)
            known_rule(rule, line, f"rules.{rule}")
            if isinstance(mode, dict):  # [rules."id"] mode = "..."
                line = lines.of(f"rules.{rule}", 0, "mode") or lines.of(f"rules.{rule}")
                mode = mode.get("mode")
            if mode not in MODES:
                err(line, f"rules.{rule!s} must be one of {', '.join(MODES)}, got {mode!r}")
            else:
                policy.rule_modes[rule] = mode

        approvals = data.get("approvals", [])
        if not isinstance(approvals, list):
            err(lines.of("", 0, "approvals"), "approvals must be an array of [[approvals]] tables")
            approvals = []
        for i, entry in enumerate(approvals):
            header = lines.of("approvals", i)
            if not isinstance(entry, dict):
                err(header, f"approvals[{i}] must be a table")
                continue
            parsed = _parse_approval(entry, i, header, lines, err)
            if parsed is not None:
                for rule in parsed.rules:
                    known_rule(rule, lines.of("approvals", i, "rules") or header,
                               f"approvals[{i}].rules")
                policy.approvals.append(parsed)
        if errors:
            raise PolicyError("\n".join(errors))
        return policy

    # ---- hooks called by the runner and the CLI -------------------------------------------

    def warn_if_inside(self, roots: tuple[str, ...] | list[str]) -> None:
        """Say so when the policy file sits inside a scanned root (it still only applies because
        the user named it explicitly)."""
        if not self.source:
            return
        for root in roots:
            base = os.path.abspath(root)
            if self.source == base or self.source.startswith(base.rstrip(os.sep) + os.sep):
                self.warnings.append(f"policy {self.source} lies inside scanned root {root}")

    def configure(self, options: Options) -> None:
        """Apply the detectors' settings from the policy (already checked against what each
        detector declares). Values set in the policy win over built-in defaults: the policy
        is the desk's standing configuration; explicit flags win over it."""
        for name, opts in self.detector_options.items():
            options.settings.setdefault(name, {}).update(opts)

    def needs_hash(self, findings: Sequence[Finding]) -> bool:
        """Whether the asset's content hash is needed (approvals are keyed by it)."""
        return bool(findings) and bool(self.approvals)

    def mode_for(self, finding: Finding) -> str:
        """The finding's mode: exact rule id, then the longest matching rule glob, then the
        detector's mode, then ``default_mode``."""
        if finding.rule in self.rule_modes:
            return self.rule_modes[finding.rule]
        globs = [p for p in self.rule_modes if fnmatch.fnmatchcase(finding.rule, p)]
        if globs:
            return self.rule_modes[max(globs, key=len)]
        return self.detector_modes.get(finding.detector, self.default_mode)

    def _warn(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            self.warnings.append(text)

    def matching_approvals(self, sha256: str | None) -> list[ApprovalEntry]:
        """Approvals whose hash is this content's (whatever else they say)."""
        if not sha256:
            return []
        return [a for a in self.approvals if a.sha256 == sha256]

    def judge(self, findings: Sequence[Finding], sha256: str | None, path: str) -> Judged:
        """The policy's view of one asset's findings: ``off`` ones dropped (counted per
        detector), each kept one a new ``Finding`` carrying the approval that waives it, and
        whether the asset blocks the delivery. Nothing passed in is changed."""
        kept: list[Finding] = []
        dropped: dict[str, int] = {}
        for f in findings:
            if self.mode_for(f) == OFF:
                dropped[f.detector] = dropped.get(f.detector, 0) + 1
            else:
                kept.append(f)
        candidates = self.matching_approvals(sha256)
        if candidates:
            kept = self._approve(kept, candidates, sha256 or "", path)
        blocking = any(f.verdict in self.fail_on and f.approval is None for f in kept)
        return Judged(tuple(kept), dropped, blocking)

    def _approve(self, findings: list[Finding], candidates: list[ApprovalEntry], sha256: str,
                 shown: str) -> list[Finding]:
        today = self.today or _dt.date.today()
        live: list[ApprovalEntry] = []
        for a in candidates:
            if a.expired(today):
                self._warn(f"{a.label()} for {shown} expired on {a.expires}: ignored")
            elif not a.path_matches(shown):
                self._warn(f"{a.label()} matches the content of {shown} but not its path "
                           f"glob {a.path!r}: ignored")
            else:
                live.append(a)
        out: list[Finding] = []
        used: set[int] = set()
        refused: set[int] = set()
        for f in findings:
            chosen: Approval | None = None
            for a in live:
                if not a.rule_matches(f.rule):
                    continue
                if self.mode_for(f) != OVERRIDABLE:
                    refused.add(a.index)
                    self._warn(f"{a.label()} cannot waive {f.rule} on {shown}: the policy makes "
                               "that rule blocking")
                    continue
                chosen = dataclasses.replace(a.to_approval(), sha256=sha256)
                used.add(a.index)
                break
            out.append(dataclasses.replace(f, approval=chosen) if chosen else f)
        for a in live:
            if a.index not in used and a.index not in refused:
                self._warn(f"{a.label()} for {shown} waives none of its findings "
                           f"(rules {', '.join(a.rules) or 'any'}): ignored")
        return out

    # ---- used by ``policy check`` ----------------------------------------------------------

    def expired_approvals(self) -> list[ApprovalEntry]:
        today = self.today or _dt.date.today()
        return [a for a in self.approvals if a.expired(today)]


def _parse_approval(entry: dict[str, Any], i: int, header: int, lines: _Lines,
                    err: Any) -> ApprovalEntry | None:
    where = f"approvals[{i}]"
    ok = True

    def line_of(key: str) -> int:
        return lines.of("approvals", i, key) or header

    for key in entry:
        if key not in APPROVAL_KEYS:
            err(line_of(key), f"{where}: unknown key {key!r} "
                              f"(known: {', '.join(sorted(APPROVAL_KEYS))})")
            ok = False
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not SHA256_RE.match(sha.strip().lower()):
        err(line_of("sha256"), f"{where}.sha256 must be 64 hex digits (the file's SHA-256), "
                               f"got {sha!r}")
        ok = False
    texts: dict[str, str] = {}
    for key in ("ref", "by", "reason"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            err(line_of(key), f"{where}.{key} is required (a non-empty string)")
            ok = False
        else:
            texts[key] = value.strip()
    dates: dict[str, str] = {}
    for key in ("date", "expires"):
        if key in entry:
            try:
                dates[key] = _date_text(entry[key])
            except ValueError:
                err(line_of(key), f"{where}.{key} must be a date like 2025-12-31, "
                                  f"got {entry[key]!r}")
                ok = False
    path = entry.get("path", "")
    if not isinstance(path, str):
        err(line_of("path"), f"{where}.path must be a glob string")
        ok = False
    rules = entry.get("rules", [])
    if isinstance(rules, str):
        rules = [rules]
    if not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules):
        err(line_of("rules"), f"{where}.rules must be a list of rule ids")
        ok = False
    size = entry.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        err(line_of("size"), f"{where}.size must be a byte count")
        ok = False
    file = entry.get("file", "")
    if not isinstance(file, str):
        err(line_of("file"), f"{where}.file must be a string")
        ok = False
    if not ok:
        return None
    assert isinstance(sha, str)
    return ApprovalEntry(sha256=sha.strip().lower(), ref=texts["ref"], by=texts["by"],
                         reason=texts["reason"], date=dates.get("date", ""),
                         expires=dates.get("expires", ""), path=path, rules=tuple(rules),
                         file=file, size=size, line=header, index=i)

