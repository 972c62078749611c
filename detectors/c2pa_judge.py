"""Judging a C2PA manifest store (the JSON c2pa-python returns) for generative-AI markers.

Pure functions of the store dict, so every rule can be tested on real reader output and on
hand-made shapes alike. Why it walks so much: real vendor files keep the AI marker two
``parentOf`` hops back (Gemini), in a ``componentOf`` ingredient (Photoshop + Firefly), only in
the ingredient's own manifest (ChatGPT), or in a ``c2pa.metadata`` JSON-LD assertion; and some
write no source type at all, only a vendor name (Bing Image Creator). So every manifest and
every assertion's data is walked, and both vocabularies (digital source types, vendors) come
from the shared data tables in ``detectors/data``.

The validation state is reported next to the verdict, never instead of it: an intact but
untrusted manifest that claims AI is still AI (tier ``declared`` instead of ``verified``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from detectors.model import AI, REVIEW, Finding, truncate
from detectors.vocab import judge_source_type, match_vendor

DETECTOR = "c2pa"
ARROW = " → "
MAX_DEPTH = 32  # JSON nesting we follow inside one assertion
MAX_LOCATIONS = 8  # extra locations listed in one finding's evidence


@dataclass(frozen=True)
class Rules:
    untrusted: frozenset[str]
    corrupt: frozenset[str]
    content_changed: frozenset[str]
    version: str


@cache
def rules() -> Rules:
    """Validation-code groups from ``detectors/data/c2pa_rules.toml``."""
    text = resources.files("detectors.data").joinpath("c2pa_rules.toml").read_text("utf-8")
    data = tomllib.loads(text)
    codes = data["validation"]
    return Rules(frozenset(codes["untrusted"]), frozenset(codes["corrupt"]),
                 frozenset(codes["content_changed"]), data["version"])


@dataclass
class StoreContext:
    """How the store was obtained, for evidence and validation wording."""

    origin: str  # "embedded" | "sidecar <name>" | "standalone store"
    verified: bool
    not_verified_reason: str = ""
    failure: str = ""  # a verifying read failed outright (the manifest was read without it)


@dataclass
class Judgement:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Store shape helpers


def manifest_order(store: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, path from the active manifest) for every manifest: active first, then ingredients
    breadth-first, then manifests nothing links to (sorted, so output is deterministic)."""
    manifests = store.get("manifests") or {}
    if not isinstance(manifests, dict):
        return []
    active = store.get("active_manifest")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    queue: list[tuple[str, str]] = []
    if isinstance(active, str) and active in manifests:
        queue.append((active, "active"))
        seen.add(active)
    while queue:
        label, path = queue.pop(0)
        out.append((label, path))
        manifest = manifests.get(label)
        for ing in _list(manifest.get("ingredients") if isinstance(manifest, dict) else None):
            if not isinstance(ing, dict):
                continue
            child = ing.get("active_manifest")
            if not isinstance(child, str):
                child = (ing.get("manifest_data") or {}).get("identifier") \
                    if isinstance(ing.get("manifest_data"), dict) else None
            if isinstance(child, str) and child in manifests and child not in seen:
                seen.add(child)
                rel = ing.get("relationship") or "ingredient"
                title = ing.get("title") or "?"
                queue.append((child, f'{path}{ARROW}{rel} "{title}"'))
    for label in sorted(k for k in manifests if k not in seen):
        out.append((label, "not linked from the active manifest"))
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A display string for a softwareAgent-like value (v1 string or v2 {name, version})."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str):
            version = value.get("version")
            return f"{name} {version}" if isinstance(version, str) and version else name
    return ""


def _name(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else ""


def claim_generator(manifest: dict[str, Any]) -> str:
    """v1 ``claim_generator`` string, else the ``claim_generator_info`` names joined."""
    cg = manifest.get("claim_generator")
    if isinstance(cg, str) and cg:
        return cg
    parts = [_text(item) for item in _list(manifest.get("claim_generator_info"))]
    return "; ".join(p for p in parts if p)


def validation_text(store: dict[str, Any], label: str, sc: StoreContext) -> str:
    """``trusted`` / ``valid, untrusted signer`` / ``invalid: <codes>`` / ``not verified (…)``
    for one manifest: failures that name this manifest's JUMBF URL decide; a store-wide
    ``Invalid`` state without such failures still reads as invalid."""
    if sc.failure:
        return f"invalid: {truncate(sc.failure, 200)}"
    if not sc.verified:
        return f"not verified ({sc.not_verified_reason})" if sc.not_verified_reason \
            else "not verified"
    r = rules()
    state = store.get("validation_state")
    statuses = [s for s in _list(store.get("validation_status")) if isinstance(s, dict)]
    mine = [s for s in statuses if _refers(s.get("url"), label)]
    bad = sorted({str(s.get("code")) for s in mine if s.get("code") not in r.untrusted})
    if bad:
        return "invalid: " + ", ".join(bad)
    if state == "Invalid":
        every = sorted({str(s.get("code")) for s in statuses if s.get("code") not in r.untrusted})
        return "invalid: " + (", ".join(every) if every else "validation state Invalid")
    if any(s.get("code") in r.untrusted for s in mine):
        return "valid, untrusted signer"
    if state == "Trusted":
        return "trusted"
    if state == "Valid":
        return "valid, untrusted signer"
    return f"not verified (validation state {state!r})"


def _refers(url: Any, label: str) -> bool:
    if not isinstance(url, str):
        return False
    needle = f"/c2pa/{label}"
    return url.endswith(needle) or f"{needle}/" in url


def is_verified(validation: str) -> bool:
    return validation in ("trusted", "valid, untrusted signer")


# --------------------------------------------------------------------------------------------
# Walking assertion data


@dataclass
class Spot:
    """One interesting value inside an assertion: where, what, and its enclosing action."""

    where: str  # JSON path inside the assertion, e.g. actions[0]/digitalSourceType
    kind: str  # "dst" | "agent" | "description"
    value: str
    action: dict[str, Any] | None


def _is_dst_key(key: str) -> bool:
    return key.lower().rsplit(":", 1)[-1].endswith("digitalsourcetype")


def walk_assertion(data: Any) -> Iterator[Spot]:
    """Every digitalSourceType, softwareAgent and action description in one assertion's data,
    at any depth (actions, templates, c2pa.metadata JSON-LD, vendor assertions)."""
    agents = _list(data.get("softwareAgents")) if isinstance(data, dict) else []
    stack: list[tuple[Any, str, dict[str, Any] | None, int]] = [(data, "", None, 0)]
    while stack:
        node, path, action, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], f"{path}[{i}]", action, depth + 1))
            continue
        if not isinstance(node, dict):
            continue
        here = node if ("action" in node or "digitalSourceType" in node) else action
        for key in sorted(node, reverse=True):
            value = node[key]
            sub = f"{path}/{key}" if path else str(key)
            if _is_dst_key(str(key)):
                if isinstance(value, dict):  # JSON-LD {"@id": uri}
                    value = value.get("@id") or value.get("id")
                if isinstance(value, str):
                    yield Spot(sub, "dst", value, here)
                    continue
            if key == "softwareAgent" and _name(value):
                yield Spot(sub, "agent", _name(value), here)
                continue
            if key == "softwareAgentIndex" and isinstance(value, int) \
                    and 0 <= value < len(agents) and _name(agents[value]):
                yield Spot(sub, "agent", _name(agents[value]), here)
                continue
            if key == "description" and isinstance(value, str) and "action" in node:
                yield Spot(sub, "description", value, here)
                continue
            if key == "softwareAgents" and isinstance(value, list):
                for i, agent in enumerate(value):
                    if _name(agent):
                        yield Spot(f"{sub}[{i}]", "agent", _name(agent), None)
                continue
            if isinstance(value, dict | list):
                stack.append((value, sub, here, depth + 1))


# --------------------------------------------------------------------------------------------
# Judging


@dataclass
class _Manifest:
    label: str
    path: str
    generator: str
    issuer: str
    common_name: str
    signing_time: str | None  # only with a timestamp (TSA); None when unsigned-in-time
    validation: str

    def evidence(self, sc: StoreContext) -> dict[str, Any]:
        return {
            "manifest": self.label,
            "manifest_path": self.path,
            "claim_generator": self.generator,
            "signer_issuer": self.issuer,
            "signer_cn": self.common_name,
            "signing_time": self.signing_time,
            "validation": self.validation,
            "store": sc.origin,
        }


def _manifest_info(store: dict[str, Any], label: str, path: str, sc: StoreContext) -> _Manifest:
    m = store["manifests"][label]
    sig = m.get("signature_info") if isinstance(m.get("signature_info"), dict) else {}
    return _Manifest(label, path, claim_generator(m), str(sig.get("issuer") or ""),
                     str(sig.get("common_name") or ""), sig.get("time") or None,
                     validation_text(store, label, sc))


class _Collector:
    """One finding per (rule, manifest); later hits for the same pair become extra locations."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], Finding] = {}

    def add(self, rule: str, verdict: str, tier: str, location: str, value: str, message: str,
            evidence: dict[str, Any]) -> None:
        key = (rule, evidence.get("manifest", ""))
        if key in self.findings:
            extra = self.findings[key].evidence.setdefault("also_at", [])
            if len(extra) < MAX_LOCATIONS and location not in extra:
                extra.append(location)
            return
        self.findings[key] = Finding(DETECTOR, rule, verdict, tier, location, truncate(value),
                                     message, evidence)


def _where(m: _Manifest, assertion: str, inner: str) -> str:
    return f"c2pa:manifest[{m.label}]/{assertion}" + (f"/{inner}" if inner else "")


def _where_ref(m: _Manifest) -> str:
    return "the active manifest" if m.path == "active" else f"ingredient manifest ({m.path})"


def judge_store(store: dict[str, Any], sc: StoreContext) -> Judgement:
    """Findings for every AI/review marker in every manifest of ``store``."""
    out = Judgement()
    col = _Collector()
    r = rules()
    order = manifest_order(store)
    for label, path in order:
        manifest = store["manifests"].get(label)
        if not isinstance(manifest, dict):
            continue
        m = _manifest_info(store, label, path, sc)
        tier = "verified" if is_verified(m.validation) else "declared"
        _judge_manifest(manifest, m, sc, tier, col, out)
    findings = list(col.findings.values())
    statuses = [s for s in _list(store.get("validation_status")) if isinstance(s, dict)]
    codes = {str(s.get("code")) for s in statuses}
    if sc.verified and not any(f.verdict == AI for f in findings):
        broken = sorted(codes & r.corrupt)
        if broken and order:
            m = _manifest_info(store, order[0][0], order[0][1], sc)
            ev = m.evidence(sc)
            ev["codes"] = broken
            findings.append(Finding(
                DETECTOR, "c2pa.corrupt", REVIEW, "declared",
                f"c2pa:manifest[{m.label}]/c2pa.signature", ", ".join(broken),
                "C2PA manifest was altered after signing (" + ", ".join(broken) + "); what it "
                "says about the content cannot be relied on", ev))
    changed = sorted(codes & r.content_changed)
    if sc.verified and changed:
        out.notes.append("C2PA content binding does not match: the content changed after "
                         f"signing ({', '.join(changed)})")
    out.findings = findings
    if order and not findings:
        active = store["manifests"].get(order[0][0]) or {}
        m = _manifest_info(store, order[0][0], order[0][1], sc)
        out.notes.append(
            f"C2PA store ({sc.origin}): {len(order)} manifest(s), no generative-AI marker; "
            f"active signed by {m.issuer or '?'} / {m.common_name or '?'}, claim generator "
            f"{claim_generator(active) or '?'}, validation {m.validation}")
    return out


def _judge_manifest(manifest: dict[str, Any], m: _Manifest, sc: StoreContext, tier: str,
                    col: _Collector, out: Judgement) -> None:
    base = m.evidence(sc)
    for a_index, assertion in enumerate(_list(manifest.get("assertions"))):
        if not isinstance(assertion, dict):
            continue
        a_label = str(assertion.get("label") or f"assertions[{a_index}]")
        for spot in walk_assertion(assertion.get("data")):
            action = spot.action or {}
            ev = dict(base)
            ev["assertion"] = a_label
            ev["action"] = str(action.get("action") or "")
            ev["digital_source_type"] = str(action.get("digitalSourceType") or "") \
                if spot.kind != "dst" else spot.value
            ev["software_agent"] = _text(action.get("softwareAgent"))
            location = _where(m, a_label, spot.where)
            if spot.kind == "dst":
                _judge_dst(spot, m, tier, location, ev, col, out)
            else:
                field_class = "agent" if spot.kind == "agent" else "description"
                _judge_vendor(field_class, spot.value, m, tier, location, ev, col)
    sig_ev = dict(base)
    for key, cls, value in (("claim_generator", "agent", manifest.get("claim_generator")),
                            ("signature_info/issuer", "signer", m.issuer),
                            ("signature_info/common_name", "signer", m.common_name),
                            ("title", "description", manifest.get("title"))):
        if isinstance(value, str) and value:
            _judge_vendor(cls, value, m, tier, f"c2pa:manifest[{m.label}]/{key}", sig_ev, col)
    for i, info in enumerate(_list(manifest.get("claim_generator_info"))):
        name = _name(info)
        if name:
            _judge_vendor("agent", name, m, tier,
                          f"c2pa:manifest[{m.label}]/claim_generator_info[{i}]/name", sig_ev, col)


def _judge_dst(spot: Spot, m: _Manifest, tier: str, location: str, ev: dict[str, Any],
               col: _Collector, out: Judgement) -> None:
    st = judge_source_type(spot.value)
    if st is None:
        note = f"unknown digitalSourceType {truncate(spot.value, 120)!r} at {location}"
        if note not in out.notes:
            out.notes.append(note)
        return
    if st.verdict not in (AI, REVIEW):
        return
    ev["source_type"] = st.term
    what = f"{ev['action']} " if ev.get("action") else ""
    message = (f"C2PA {what}declares digitalSourceType {st.term} ({st.label}) in "
               f"{_where_ref(m)}; signature: {m.validation}")
    col.add(f"c2pa.dst.{st.term}", st.verdict, tier, location, spot.value, message, ev)


def vendor_rule(vendor_id: str) -> str:
    return "c2pa.vendor." + vendor_id.removeprefix("vendor.")


def _judge_vendor(field_class: str, value: str, m: _Manifest, tier: str, location: str,
                  ev: dict[str, Any], col: _Collector) -> None:
    vendor = match_vendor(field_class, value)
    if vendor is None or vendor.verdict not in (AI, REVIEW):
        return
    ev = dict(ev)
    ev.update({"vendor": vendor.vendor, "vendor_id": vendor.id, "matched_field": field_class,
               "vendor_confidence": vendor.confidence, "reference": vendor.reference})
    message = (f"C2PA {field_class} {value!r} names {vendor.vendor} in {_where_ref(m)}; "
               f"signature: {m.validation}")
    col.add(vendor_rule(vendor.id), vendor.verdict, tier, location, value, message, ev)
