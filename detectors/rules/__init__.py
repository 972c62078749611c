"""The metadata rule pack: data files (``detectors/rules/*.toml``) that say which normalised
metadata field, matched how, means which generator, with which verdict and evidence tier.

A new generator needs a rule, not code. Each ``[[rule]]`` has:

- ``id`` (``meta.<tool>.<what>``), ``tool`` (vendor/tool name), ``reference`` (where the marker is
  documented), ``fixtures`` (files under ``fixtures/meta`` that must fire it, or relative to it:
  ``../sidecars/<dir>/<file>`` for generator sidecars and enhancement files; the tests check);
- ``fields``: canonical field keys (``detectors.formats``), matched case-insensitively;
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
  ``fallback`` (fires only when no other rule matched the same field), ``message``;
- ``samples``: true/false-positive examples the rule must get right, an array of inline tables
  ``{ field = "<canonical key>", value = "<field value>", fires = true|false }``. ``field`` must
  match one of the rule's ``fields`` (case-insensitive, ``*`` wildcard), ``value`` is a string
  (may be empty: a blank value is never judged), ``fires`` a bool. ``tests/test_rule_samples.py``
  evaluates each sample alone through ``Pack.evaluate`` (so a fallback rule's sample is judged as
  in a scan: it does not fire when a regular rule claims the same field). Like gitleaks' rule
  examples, every rule carries at least one sample that fires and one near miss that must not.

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

from detectors.model import TIERS, Field, Finding, excerpt_secret, truncate
from detectors.vocab import judge_source_type, match_vendor

MATCHES = ("equals", "regex", "json", "source_type", "vendor", "present")
VERDICTS = ("ai", "review", "table")
JSON_LIMIT = 16 * 1024 * 1024
# Field values are untrusted and may be megabytes (a zTXt inflates to 16 MiB). Regex matching is
# linear but not cheap (~0.5 us/char for the free-text alternation), so each regex reads at most
# REGEX_VALUE_LIMIT chars of a value and one evaluate() call at most REGEX_BUDGET chars in all;
# what is cut is said in a note. Real markers sit in values of a few kilobytes.
REGEX_VALUE_LIMIT = 512 * 1024
REGEX_BUDGET = 2 * 1024 * 1024
# JSON parsing costs ~70 ms per MiB (and ten times that in memory): per evaluate() call.
JSON_BUDGET = 2 * JSON_LIMIT
MAX_NOTES = 200
# Longer than any digital source type URI: judged unknown without normalising megabytes.
SOURCE_TYPE_LIMIT = 4096


class RuleError(ValueError):
    """A rule file is malformed (the metadata detector then reports itself unavailable)."""


@dataclass(frozen=True)
class Sample:
    """A field the rule must fire on (``fires``) or must not fire on (a near miss)."""

    field: str
    value: str
    fires: bool


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
    samples: tuple[Sample, ...] = ()
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
           "message", "secret", "fallback", "samples"}
_SAMPLE_KEYS = {"field", "value", "fires"}
_PARAMS = {
    "equals": {"value", "values", "case_sensitive"},
    "regex": {"pattern"},
    "json": {"required", "any", "strip_prefix"},
    "source_type": set(),
    "vendor": {"field_class"},
    "present": set(),
}


def _key_regex(key: str) -> re.Pattern[str]:
    """A field key pattern as the pack matches it: lower-cased, ``*`` = any run of chars."""
    return re.compile(".*".join(re.escape(part) for part in key.lower().split("*")))


def _samples(raw: Any, fields: tuple[str, ...], rid: str) -> tuple[Sample, ...]:
    if not isinstance(raw, list):
        raise RuleError(f"rule {rid}: samples must be an array of inline tables")
    exact = {k.lower() for k in fields if "*" not in k}
    patterns = [_key_regex(k) for k in fields if "*" in k]  # the few wildcard keys only
    out = []
    for n, item in enumerate(raw, 1):
        where = f"rule {rid}: sample {n}"
        if not isinstance(item, dict):
            raise RuleError(f"{where} must be an inline table {{ field, value, fires }}")
        unknown = set(item) - _SAMPLE_KEYS
        if unknown:
            raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
        key, value, fires = item.get("field"), item.get("value"), item.get("fires")
        if not isinstance(key, str) or not key:
            raise RuleError(f"{where}: field must be a non-empty string")
        if key.lower() not in exact and not any(p.fullmatch(key.lower()) for p in patterns):
            raise RuleError(f"{where}: field {key!r} is not one of the rule's fields {list(fields)}")
        if not isinstance(value, str):
            raise RuleError(f"{where}: value must be a string")
        if not isinstance(fires, bool):
            raise RuleError(f"{where}: fires must be true or false")
        out.append(Sample(key, value, fires))
    return tuple(out)


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
    samples = _samples(raw["samples"], fields, rid) if "samples" in raw else ()
    return Rule(
        id=rid, tool=raw["tool"], fields=fields, match=match, verdict=raw["verdict"],
        tier=raw["tier"], reference=raw["reference"],
        fixtures=_as_list(raw.get("fixtures", []), "fixtures", rid) if raw.get("fixtures") else (),
        message=raw.get("message", ""), secret=bool(raw.get("secret", False)),
        fallback=bool(raw.get("fallback", False)), params=params, source=source,
        samples=samples, _regex=regex)


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
            if len(self._cache) < 65536 and len(low) <= 256:  # hostile keys: not kept
                self._cache[low] = hit
        return hit

    def evaluate(self, fields: Iterable[Field], notes: list[str] | None = None) -> list[Hit]:
        """Every (rule, field) match, deduplicated on (rule, key, value); fallback rules only
        where no regular rule matched that field. ``notes`` collects qualified non-matches
        (an unknown digital source type term, a regex that read only part of a huge value),
        as the C2PA detector reports them.

        Bounded for hostile values: a (key, value) pair is judged once, a JSON value is parsed
        once for all the rules that read it, and regex work has a per-call budget."""
        hits: list[Hit] = []
        seen: set[tuple[str, str, str]] = set()
        judged: set[tuple[str, str]] = set()
        state = _State(notes)
        for f in fields:
            if not f.value or not f.value.strip():
                continue
            pair = (f.key.lower(), f.value)
            if pair in judged:
                continue  # same outcome as its first occurrence, whose hits are kept
            judged.add(pair)
            regular: list[Hit] = []
            fallbacks: list[Hit] = []
            rules = self.candidates(f.key)
            for rule in rules:
                if not rule.fallback:
                    hit = _apply(rule, f, notes, state)
                    if hit is not None:
                        regular.append(hit)
            if not regular:  # fallbacks only matter where nothing else matched
                for rule in rules:
                    if rule.fallback:
                        hit = _apply(rule, f, notes, state)
                        if hit is not None:
                            fallbacks.append(hit)
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
    return _KeyPattern(key.lower().split("*", 1)[0], _key_regex(key), rule)


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

class _State:
    """Per-``evaluate`` bounds and caches: regex budget, the last parsed JSON documents."""

    def __init__(self, notes: list[str] | None) -> None:
        self.notes = notes
        self.regex_left = REGEX_BUDGET
        self.json_left = JSON_BUDGET
        self.json_docs: dict[tuple[str, str], Any] = {}
        self.noted: set[str] = set()

    def note(self, text: str) -> None:
        """Add a note once; a flood (200 000 unknown source types) ends in one line."""
        if self.notes is None or text in self.noted:
            return
        if len(self.noted) < MAX_NOTES:
            self.notes.append(text)
        elif len(self.noted) == MAX_NOTES:
            self.notes.append(f"more than {MAX_NOTES} rule notes; the rest omitted")
        else:
            return
        self.noted.add(text)

    def regex_text(self, rule: Rule, f: Field) -> str | None:
        """The part of ``f.value`` that ``rule``'s regex may read (None: budget spent)."""
        value = f.value
        if self.regex_left <= 0:
            self.note(f"regex rules not applied to {f.key} ({len(value)} chars): "
                      f"{REGEX_BUDGET}-char matching budget for this file spent")
            return None
        n = min(len(value), REGEX_VALUE_LIMIT, self.regex_left)
        self.regex_left -= n
        if n < len(value):
            self.note(f"regex rules read the first {n} of {len(value)} chars of {f.key}")
            return value[:n]
        return value

    def json_doc(self, prefix: str, value: str) -> Any:
        """The parsed JSON of ``value`` after ``prefix`` (``_NOT_JSON`` when it is none);
        parsed once for every rule reading the same value."""
        key = (prefix, value)
        if key in self.json_docs:
            return self.json_docs[key]
        if len(value) > self.json_left:
            head = value[:4096].lstrip()
            if head[:1] in ("{", "[") or (prefix and head.startswith(prefix)):
                self.note(f"JSON rules not applied to a {len(value)}-char value: "
                          f"{JSON_BUDGET}-char parsing budget for this file spent")
            return _NOT_JSON
        doc = _parse_json(prefix, value)
        if doc is not _NOT_JSON:
            self.json_left -= len(value)
        if len(self.json_docs) >= 2:  # fields come one by one: keep memory bounded
            self.json_docs.pop(next(iter(self.json_docs)))
        self.json_docs[key] = doc
        return doc


_NOT_JSON = object()


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


def _parse_json(prefix: str, value: str) -> Any:
    text = value.strip()
    if prefix:
        if not text.startswith(prefix):
            return _NOT_JSON
        text = text[len(prefix):].lstrip()
    if text[:1] not in ("{", "[") or len(text) > JSON_LIMIT:
        return _NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _match_json(rule: Rule, value: str, state: _State | None = None) -> bool:
    prefix = rule.params.get("strip_prefix", "")
    doc = state.json_doc(prefix, value) if state else _parse_json(prefix, value)
    if doc is _NOT_JSON:
        return False
    required = rule.params.get("required", [])
    anyof = rule.params.get("any", [])
    if not all(_json_has(doc, p.split(".")) for p in required):
        return False
    return not anyof or any(_json_has(doc, p.split(".")) for p in anyof)


def _apply(rule: Rule, f: Field, notes: list[str] | None = None,
           state: _State | None = None) -> Hit | None:
    value = f.value
    extra: dict[str, Any] = {}
    verdict = rule.verdict
    message = ""
    m = rule.match
    if m == "equals":
        wanted = rule.params.get("values") or [rule.params["value"]]
        v = value.strip()
        # casefold never shortens a string: a longer value cannot equal (skips megabytes)
        if len(v) > max(len(w.casefold()) for w in wanted):
            return None
        if rule.params.get("case_sensitive"):
            ok = v in wanted
        else:
            ok = v.casefold() in {w.casefold() for w in wanted}
        if not ok:
            return None
    elif m == "regex":
        assert rule._regex is not None
        searched = state.regex_text(rule, f) if state else value
        if searched is None or not rule._regex.search(searched):
            return None
    elif m == "json":
        if not _match_json(rule, value, state):
            return None
    elif m == "present":
        if not value.strip():
            return None
    elif m == "source_type":
        st = judge_source_type(value) if len(value) <= SOURCE_TYPE_LIMIT else None
        if st is None and notes is not None:
            note = f"unknown digitalSourceType {truncate(value, 120)!r} in {f.key}"
            if state is not None:
                state.note(note)
            elif note not in notes:
                notes.append(note)
        if st is None or st.verdict not in ("ai", "review"):
            return None
        if verdict == "table":
            verdict = st.verdict
        extra = {"source_type": st.term, "source_type_label": st.label}
        message = rule.message or f"digital source type '{st.term}': {st.label}"
    elif m == "vendor":
        vendor = match_vendor(rule.params.get("field_class", "agent"), value)
        if vendor is None or vendor.verdict not in ("ai", "review"):
            return None
        if verdict == "table":
            verdict = vendor.verdict
        extra = {"vendor_id": vendor.id, "vendor": vendor.vendor,
                 "vendor_reference": vendor.reference}
        message = rule.message or f"{f.key} names {vendor.vendor}"
    # evidence only for a match (most calls are misses)
    evidence: dict[str, Any] = {"field": f.key, "tool": rule.tool, "reference": rule.reference,
                                "match": rule.describe_match(), "reader": f.reader, **extra}
    return Hit(rule, f, verdict, message or rule.message or f"{rule.tool} marker in {f.key}",
               evidence)


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
