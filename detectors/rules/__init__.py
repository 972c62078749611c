"""The metadata rule pack: data files (``detectors/rules/*.toml``) that say which normalised
metadata field, matched how, means which generator, with which verdict and evidence tier.

A new generator needs a rule, not code. Each ``[[rule]]`` has:

- ``id`` (``meta.<tool>.<what>``), ``tool`` (vendor/tool name), ``reference`` (where the marker is
  documented), ``fixtures`` (files under ``fixtures/meta`` that must fire it; the tests check);
- ``fields``: canonical field keys (``detectors.formats.fields``), matched case-insensitively;
  ``*`` is a wildcard (``id3:TXXX:*``);
- ``match`` and its parameters:
  ``equals`` (``value`` or ``values``; case-insensitive unless ``case_sensitive``),
  ``regex`` (``pattern``, Python ``re.search``),
  ``json`` (value parses as JSON after an optional ``strip_prefix``; ``required`` paths must all
  exist, at least one ``any`` path must; a path is dot-separated keys, ``*`` = any key/element),
  ``source_type`` (IPTC/C2PA digital source type judged by the shared table, ``detectors.vocab``),
  ``vendor`` (shared vendor table, ``field_class`` e.g. ``agent``),
  ``present`` (any non-empty value);
- ``verdict`` (``ai`` | ``review``, or ``table`` to take it from the shared table), ``tier``;
- optional ``secret`` (value is a prompt/workflow: excerpt + hash unless --show-prompts),
  ``fallback`` (fires only when no other rule matched the same field), ``message``.

The pack version (``pack_version()``) is the declared version plus a hash of the rule files, so a
changed rule always changes the cache key and the report.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from detectors.formats.fields import Field
from detectors.model import TIERS, Finding, excerpt_secret, truncate
from detectors.vocab import judge_source_type, match_vendor

MATCHES = ("equals", "regex", "json", "source_type", "vendor", "present")
VERDICTS = ("ai", "review", "table")
JSON_LIMIT = 16 * 1024 * 1024


class RuleError(ValueError):
    """A rule file is malformed (the metadata detector then reports itself unavailable)."""


@dataclass(frozen=True)
class Rule:
    id: str
    tool: str
    fields: tuple[str, ...]
    match: str
    verdict: str
    tier: str
    reference: str
    fixtures: tuple[str, ...] = ()
    message: str = ""
    secret: bool = False
    fallback: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    _regex: re.Pattern[str] | None = None

    def describe_match(self) -> str:
        p = self.params
        if self.match == "equals":
            vals = p.get("values") or [p.get("value")]
            return "equals " + " | ".join(repr(v) for v in vals)
        if self.match == "regex":
            return f"regex {p['pattern']!r}"
        if self.match == "json":
            parts = []
            if p.get("strip_prefix"):
                parts.append(f"after {p['strip_prefix']!r}")
            if p.get("required"):
                parts.append("has " + ", ".join(p["required"]))
            if p.get("any"):
                parts.append("has one of " + ", ".join(p["any"]))
            return "JSON " + "; ".join(parts)
        if self.match == "vendor":
            return f"vendor table ({p.get('field_class', 'agent')})"
        if self.match == "source_type":
            return "digital source type table"
        return "present"


@dataclass(frozen=True)
class Hit:
    """One rule matching one field."""

    rule: Rule
    field: Field
    verdict: str
    message: str
    evidence: dict[str, Any]


def _files() -> list[tuple[str, str]]:
    root = resources.files("detectors.rules")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append((entry.name, entry.read_text("utf-8")))
    return out


def _as_list(value: Any, what: str, rid: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise RuleError(f"rule {rid}: {what} must be a string or a list of strings")


_COMMON = {"id", "tool", "field", "fields", "match", "verdict", "tier", "reference", "fixtures",
           "message", "secret", "fallback"}
_PARAMS = {
    "equals": {"value", "values", "case_sensitive"},
    "regex": {"pattern"},
    "json": {"required", "any", "strip_prefix"},
    "source_type": set(),
    "vendor": {"field_class"},
    "present": set(),
}


def _rule(raw: dict[str, Any], source: str) -> Rule:
    rid = raw.get("id")
    if not isinstance(rid, str) or not re.fullmatch(r"meta\.[a-z0-9_.-]+", rid):
        raise RuleError(f"{source}: rule id {rid!r} must look like meta.<tool>.<what>")
    match = raw.get("match")
    if match not in MATCHES:
        raise RuleError(f"rule {rid}: match must be one of {MATCHES}, not {match!r}")
    unknown = set(raw) - _COMMON - _PARAMS[match]
    if unknown:
        raise RuleError(f"rule {rid}: unknown keys {sorted(unknown)}")
    for key in ("tool", "verdict", "tier", "reference"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RuleError(f"rule {rid}: {key} is required")
    if raw["verdict"] not in VERDICTS:
        raise RuleError(f"rule {rid}: verdict must be one of {VERDICTS}")
    if raw["verdict"] == "table" and match not in ("source_type", "vendor"):
        raise RuleError(f"rule {rid}: verdict 'table' needs match source_type or vendor")
    if raw["tier"] not in TIERS:
        raise RuleError(f"rule {rid}: tier must be one of {TIERS}")
    if "fields" in raw and "field" in raw:
        raise RuleError(f"rule {rid}: give field or fields, not both")
    fields = _as_list(raw.get("fields", raw.get("field")), "fields", rid)
    params = {k: raw[k] for k in _PARAMS[match] if k in raw}
    regex = None
    if match == "regex":
        if not isinstance(params.get("pattern"), str):
            raise RuleError(f"rule {rid}: regex needs pattern")
        try:
            regex = re.compile(params["pattern"])
        except re.error as exc:
            raise RuleError(f"rule {rid}: bad pattern: {exc}") from None
    if match == "equals" and "value" not in params and "values" not in params:
        raise RuleError(f"rule {rid}: equals needs value or values")
    if match == "json" and not (params.get("required") or params.get("any")):
        raise RuleError(f"rule {rid}: json needs required or any paths")
    return Rule(
        id=rid, tool=raw["tool"], fields=fields, match=match, verdict=raw["verdict"],
        tier=raw["tier"], reference=raw["reference"],
        fixtures=_as_list(raw.get("fixtures", []), "fixtures", rid) if raw.get("fixtures") else (),
        message=raw.get("message", ""), secret=bool(raw.get("secret", False)),
        fallback=bool(raw.get("fallback", False)), params=params, source=source, _regex=regex)


@dataclass(frozen=True)
class Pack:
    version: str
    rules: tuple[Rule, ...]
    exact: dict[str, tuple[Rule, ...]]
    patterns: tuple[_KeyPattern, ...]

    _cache: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def candidates(self, key: str) -> tuple[Rule, ...]:
        """Rules whose field keys match ``key`` (cached: keys repeat across files)."""
        low = key.lower()
        hit = self._cache.get(low)
        if hit is None:
            found = list(self.exact.get(low, ()))
            found.extend(pat.rule for pat in self.patterns
                         if low.startswith(pat.prefix) and pat.regex.fullmatch(low))
            hit = tuple({r.id: r for r in found}.values())
            if len(self._cache) < 65536:
                self._cache[low] = hit
        return hit

    def evaluate(self, fields: Iterable[Field], notes: list[str] | None = None) -> list[Hit]:
        """Every (rule, field) match, deduplicated on (rule, key, value); fallback rules only
        where no regular rule matched that field. ``notes`` collects qualified non-matches
        (an unknown digital source type term), as the C2PA detector reports them."""
        hits: list[Hit] = []
        seen: set[tuple[str, str, str]] = set()
        for f in fields:
            if not f.value or not f.value.strip():
                continue
            regular: list[Hit] = []
            fallbacks: list[Hit] = []
            for rule in self.candidates(f.key):
                hit = _apply(rule, f, notes)
                if hit is not None:
                    (fallbacks if rule.fallback else regular).append(hit)
            for hit in regular or fallbacks:
                sig = (hit.rule.id, f.key.lower(), f.value)
                if sig not in seen:
                    seen.add(sig)
                    hits.append(hit)
        return hits


@dataclass(frozen=True)
class _KeyPattern:
    prefix: str  # literal text before the first '*', a cheap pre-filter
    regex: re.Pattern[str]
    rule: Rule


def _key_pattern(key: str, rule: Rule) -> _KeyPattern:
    low = key.lower()
    return _KeyPattern(low.split("*", 1)[0],
                       re.compile(".*".join(re.escape(part) for part in low.split("*"))), rule)


@cache
def load_pack() -> Pack:
    """Load and validate every rule file (cached; raises :class:`RuleError`)."""
    files = _files()
    if not files:
        raise RuleError("no rule files in detectors/rules")
    versions = []
    rules: list[Rule] = []
    digest = hashlib.sha256()
    for name, content in files:
        digest.update(name.encode() + b"\0" + content.encode("utf-8") + b"\0")
        try:
            data = tomllib.loads(content)
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"{name}: {exc}") from None
        if isinstance(data.get("version"), str):
            versions.append(data["version"])
        for raw in data.get("rule", []):
            rules.append(_rule(raw, name))
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuleError(f"duplicate rule ids: {dupes}")
    exact: dict[str, list[Rule]] = {}
    patterns: list[_KeyPattern] = []
    for rule in rules:
        for key in rule.fields:
            if "*" in key:
                patterns.append(_key_pattern(key, rule))
            else:
                exact.setdefault(key.lower(), []).append(rule)
    version = max(versions) if versions else "0"
    return Pack(f"{version}+{digest.hexdigest()[:8]}", tuple(rules),
                {k: tuple(v) for k, v in exact.items()}, tuple(patterns))


def pack_version() -> str:
    """Version of the rule pack (declared version + content hash), for reports and caches."""
    return load_pack().version


def all_rules() -> tuple[Rule, ...]:
    return load_pack().rules


# --- matchers -----------------------------------------------------------------------------

def _json_has(node: Any, parts: list[str]) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head == "*":
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        return any(_json_has(child, rest) for child in children)
    if isinstance(node, dict) and head in node:
        return _json_has(node[head], rest)
    return False


def _match_json(rule: Rule, value: str) -> bool:
    text = value.strip()
    prefix = rule.params.get("strip_prefix", "")
    if prefix:
        if not text.startswith(prefix):
            return False
        text = text[len(prefix):].lstrip()
    if text[:1] not in ("{", "[") or len(text) > JSON_LIMIT:
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    required = rule.params.get("required", [])
    anyof = rule.params.get("any", [])
    if not all(_json_has(doc, p.split(".")) for p in required):
        return False
    return not anyof or any(_json_has(doc, p.split(".")) for p in anyof)


def _apply(rule: Rule, f: Field, notes: list[str] | None = None) -> Hit | None:
    value = f.value
    evidence: dict[str, Any] = {"field": f.key, "tool": rule.tool, "reference": rule.reference,
                                "match": rule.describe_match(), "reader": f.reader}
    verdict = rule.verdict
    message = rule.message or f"{rule.tool} marker in {f.key}"
    m = rule.match
    if m == "equals":
        wanted = rule.params.get("values") or [rule.params["value"]]
        v = value.strip()
        if rule.params.get("case_sensitive"):
            ok = v in wanted
        else:
            ok = v.casefold() in {w.casefold() for w in wanted}
        if not ok:
            return None
    elif m == "regex":
        assert rule._regex is not None
        if not rule._regex.search(value):
            return None
    elif m == "json":
        if not _match_json(rule, value):
            return None
    elif m == "present":
        if not value.strip():
            return None
    elif m == "source_type":
        st = judge_source_type(value)
        if st is None and notes is not None:
            note = f"unknown digitalSourceType {truncate(value, 120)!r} in {f.key}"
            if note not in notes:
                notes.append(note)
        if st is None or st.verdict not in ("ai", "review"):
            return None
        if verdict == "table":
            verdict = st.verdict
        evidence.update({"source_type": st.term, "source_type_label": st.label})
        message = rule.message or f"digital source type '{st.term}': {st.label}"
    elif m == "vendor":
        vendor = match_vendor(rule.params.get("field_class", "agent"), value)
        if vendor is None or vendor.verdict not in ("ai", "review"):
            return None
        if verdict == "table":
            verdict = vendor.verdict
        evidence.update({"vendor_id": vendor.id, "vendor": vendor.vendor,
                         "vendor_reference": vendor.reference})
        message = rule.message or f"{f.key} names {vendor.vendor}"
    return Hit(rule, f, verdict, message, evidence)


def to_finding(hit: Hit, detector: str, show_prompts: bool, location_prefix: str = "") -> Finding:
    """A report-ready finding: prompts excerpted + hashed unless ``show_prompts``."""
    value = hit.field.value
    if hit.rule.secret and not show_prompts:
        shown = excerpt_secret(value)
    elif hit.rule.secret:
        shown = value
    else:
        shown = truncate(value)
    evidence = dict(hit.evidence)
    evidence["found_in"] = hit.field.location
    evidence["rule_pack"] = pack_version()
    return Finding(detector=detector, rule=hit.rule.id, verdict=hit.verdict, tier=hit.rule.tier,
                   location=f"{location_prefix}{hit.field.key}", value=shown,
                   message=hit.message, evidence=evidence)
