"""``deliverscan explain FILE``: everything every detector saw in one file, for the person
deciding on an approval: the content type, each detector's coverage including its negative
results ("no C2PA store"), every finding with its full evidence (a C2PA manifest chain as a
tree), the policy mode of each finding, the approvals that match, and the verdict.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from detectors.api import AssetContext, Options, Shared
from detectors.model import AI, ERROR, REVIEW, VALUE_LIMIT, Asset, AssetResult, truncate
from detectors.model import display_path as _display_path
from detectors.registry import Loaded, load_all
from scanner.hashing import sha256_file
from scanner.pipeline import scan_asset
from scanner.policy import OVERRIDABLE, Policy, PolicyError
from scanner.runner import ScanConfig, select_detectors
from scanner.walk import Walker

# Evidence keys that hold a C2PA manifest chain (rendered as a tree, active manifest first).
CHAIN_KEYS = ("manifests", "chain", "manifest_chain", "ingredients")


@dataclass
class Explained:
    """One file scanned by every detector that can run, plus what the policy says."""

    result: AssetResult
    detectors: list[Loaded]
    policy: Policy
    off_by_default: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # detector -> explain() output

    @property
    def exit_code(self) -> int:
        if self.result.verdict == ERROR:
            return 2
        return 1 if self.result.blocking else 0


def _display(path: str) -> str:
    return _display_path(path).encode("unicode_escape").decode("ascii").replace("\\\\", "\\")


def one_asset(path: str) -> Asset:
    """The ``Asset`` for one regular file, exactly as the walker would make it."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise click.BadParameter(f"{path} is a folder; explain takes one file (use scan)")
    assets = list(Walker().walk([path]))
    return assets[0]


def scan_one(path: str, options: Options, policy: Policy,
             enable: tuple[str, ...] = ()) -> Explained:
    """Run every detector that can run on ``path`` (default-off ones when enabled or, for the
    register, configured), hash the file, and apply the policy."""
    loaded = load_all()
    wanted = set(enable)
    if options.extra.get("register"):
        wanted.add("register")
    config = ScanConfig(roots=[path], options=options, policy=policy, enable=tuple(wanted))
    chosen = select_detectors(config, loaded)
    chosen_names = {d.name for d in chosen}
    off = [d.name for d in loaded if d.name not in chosen_names]
    asset = one_asset(path)
    shared = Shared(options)
    try:
        result = scan_asset(asset, chosen, shared)
        if result.sha256 is None and not result.asset.skip_reason and not result.asset.walk_error:
            try:
                result.sha256 = sha256_file(path)
            except OSError as exc:
                result.errors.append({"detector": "hash", "message": f"cannot hash: {exc}"})
        policy.apply(result)
        extras: dict[str, Any] = {}
        for item in chosen:
            det = item.detector
            hook = getattr(det, "explain", None)
            if det is None or not item.available or not callable(hook):
                continue
            try:
                extras[item.name] = hook(result.asset, AssetContext(result.asset, shared))
            except Exception as exc:  # noqa: BLE001 - an explain hook must not hide the result
                extras[item.name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        shared.close()
    return Explained(result, chosen, policy, off, extras)


# ---- rendering -------------------------------------------------------------------------------

def _scalar(value: Any, limit: int = VALUE_LIMIT) -> str:
    if isinstance(value, str):
        return truncate(value.replace("\n", "\\n"), limit)
    return truncate(json.dumps(value, ensure_ascii=False, default=str), limit)


def tree_lines(value: Any, indent: int = 0) -> list[str]:
    """Nested evidence as an indented tree (dicts by key, lists by index)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{k}:")
                lines.extend(tree_lines(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}- [{i}]")
                lines.extend(tree_lines(v, indent + 1))
            else:
                lines.append(f"{pad}- {_scalar(v)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def _manifest_label(m: dict[str, Any]) -> str:
    label = m.get("label") or m.get("manifest") or m.get("urn") or m.get("instance_id") or "?"
    bits = [str(label)]
    for key in ("claim_generator", "generator", "title", "signer", "issuer", "validation_state",
                "digital_source_type", "relationship"):
        if m.get(key):
            bits.append(f"{key}={_scalar(m[key], 80)}")
    return "  ".join(bits)


def _path_steps(path: Any) -> list[str]:
    """A manifest path as steps: a list, or text like ``active → parentOf "a.png"``."""
    if isinstance(path, list):
        return [_manifest_label(p) if isinstance(p, dict) else str(p) for p in path]
    if isinstance(path, str) and ("→" in path or "->" in path):
        return [step.strip() for step in path.replace("->", "→").split("→") if step.strip()]
    return []


def chain_lines(evidence: dict[str, Any], indent: int = 0) -> list[str]:
    """A C2PA manifest chain as a tree: the finding's manifest path (``path`` or
    ``manifest_path``: active manifest first, then each ingredient hop one level deeper, the
    last one annotated with the manifest that made the claim), then any list of
    manifests/ingredients nested by parent."""
    pad = "  " * indent
    lines: list[str] = []
    steps = _path_steps(evidence.get("path") or evidence.get("manifest_path"))
    for depth, step in enumerate(steps):
        text = step
        if depth == len(steps) - 1:
            bits = [str(evidence[k]) for k in ("manifest", "claim_generator", "validation")
                    if evidence.get(k)]
            if bits:
                text += f"  [{'; '.join(bits)}]"
        lines.append(f"{pad}{'  ' * depth}└─ {text}")
    for key in CHAIN_KEYS:
        items = evidence.get(key)
        if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
            lines.append(f"{pad}{key}:")
            lines.extend(_nested(items, indent + 1))
    return lines


def _nested(items: list[dict[str, Any]], indent: int) -> list[str]:
    lines: list[str] = []
    for m in items:
        lines.append(f"{'  ' * indent}└─ {_manifest_label(m)}")
        for key in ("ingredients", "children"):
            sub = m.get(key)
            if isinstance(sub, list) and sub and all(isinstance(i, dict) for i in sub):
                lines.extend(_nested(sub, indent + 1))
    return lines


def text_lines(ex: Explained) -> list[str]:
    r = ex.result
    a = r.asset
    out = [_display(a.path)]
    out.append(f"  {a.kind} · {a.media_type} · {a.size} bytes"
               + (f" · sha256 {r.sha256}" if r.sha256 else ""))
    for note in a.notes:
        out.append(f"  note: {note}")
    if a.skip_reason:
        out.append(f"  skipped: {a.skip_reason}")
    state = r.verdict.upper()
    if r.verdict in (AI, REVIEW):
        state += " — BLOCKING" if r.blocking else " — not blocking"
        if any(r.approvals):
            state += " (approved)"
    out.append(f"Verdict: {state} (exit {ex.exit_code})")
    out.append("Detectors:")
    for cov in r.coverage:
        count = sum(1 for f in r.findings if f.detector == cov.detector)
        notes = "; ".join(cov.notes)
        if cov.status == "applied":
            notes = "; ".join(filter(None, [f"{count} finding(s)" if count else "no findings",
                                            notes]))
        out.append(f"  {cov.detector:<12} {cov.status:<15} {notes}")
    for name in ex.off_by_default:
        out.append(f"  {name:<12} {'off':<15} off by default (--enable {name})")
    for e in r.errors:
        out.append(f"  error: {e['detector']}: {e['message']}")
    approvals = r.approvals or [None] * len(r.findings)
    out.append(f"Findings ({len(r.findings)}):" if r.findings else "Findings: none")
    for n, (f, ap) in enumerate(zip(r.findings, approvals, strict=True), 1):
        mode = ex.policy.mode_for(f)
        tag = f"  APPROVED {ap.ref} by {ap.by}" if ap else ""
        out.append(f"  [{n}] {f.detector}:{f.rule}  {f.verdict} · {f.tier} · policy {mode}{tag}")
        out.append(f"      at {f.location}")
        out.append(f"      value: {_scalar(f.value)}")
        out.append(f"      {f.message}")
        chain = chain_lines(f.evidence, 4)
        if chain:
            out.append("      manifest chain:")
            out.extend(chain)
        rest = {k: v for k, v in f.evidence.items()
                if not (chain and (k in CHAIN_KEYS or k in ("path", "manifest_path")))}
        if rest:
            out.append("      evidence:")
            out.extend(tree_lines(rest, 4))
    matching = ex.policy.matching_approvals(r)
    if matching:
        out.append("Approvals for this content (sha256):")
        for entry in matching:
            used = any(ap is not None and ap.ref == entry.ref for ap in approvals)
            scope = (f" path {entry.path!r}" if entry.path else "") + (
                f" rules {', '.join(entry.rules)}" if entry.rules else "")
            out.append(f"  {entry.ref} by {entry.by} on {entry.date or '?'}"
                       f"{' until ' + entry.expires if entry.expires else ''}{scope}: "
                       f"{'applies' if used else 'does not apply'} — {entry.reason}")
    elif r.findings and any(ex.policy.mode_for(f) == OVERRIDABLE for f in r.findings):
        out.append("Approvals: none for this content; to waive the overridable findings: "
                   "deliverscan approve FILE --policy P --ref TICKET --by NAME --reason TEXT")
    for name, extra in ex.extras.items():
        out.append(f"{name} explain:")
        out.extend(tree_lines(extra, 1))
    for w in ex.policy.warnings:
        out.append(f"warning: {w}")
    return out


def to_json(ex: Explained) -> dict[str, Any]:
    r = ex.result
    return {
        "schema": "deliverscan.explain/1",
        "result": r.to_dict(),
        "modes": [ex.policy.mode_for(f) for f in r.findings],
        "off_by_default": ex.off_by_default,
        "approvals": [{"ref": e.ref, "by": e.by, "reason": e.reason, "date": e.date,
                       "expires": e.expires, "path": e.path, "rules": list(e.rules),
                       "line": e.line} for e in ex.policy.matching_approvals(r)],
        "explain": ex.extras,
        "warnings": list(ex.policy.warnings),
        "exit_code": ex.exit_code,
    }


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=True))
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML: shows each finding's mode and the approvals that match.")
@click.option("--deep", is_flag=True, help="Read the file with ExifTool too, whatever its format.")
@click.option("--show-prompts", is_flag=True, help="Show prompts/workflows whole.")
@click.option("--enable", "enable", multiple=True, metavar="DETECTOR",
              help="Also run a detector that is off by default.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def explain(file: str, policy_path: str | None, deep: bool, show_prompts: bool,
            enable: tuple[str, ...], fmt: str) -> None:
    """Everything every detector saw in FILE, and why it is (or is not) flagged.

    Exit code as for scan: 0 not blocking, 1 blocking, 2 could not be checked."""
    try:
        policy = Policy.load(policy_path) if policy_path else Policy.default()
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None
    known = {item.name for item in load_all()}
    for name in enable:
        if name not in known:
            raise click.BadParameter(f"unknown detector {name!r}", param_hint="--enable")
    options = Options(deep=deep, show_prompts=show_prompts)
    policy.configure(options)
    ex = scan_one(file, options, policy, enable)
    if fmt == "json":
        click.echo(json.dumps(to_json(ex), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(text_lines(ex)))
    sys.exit(ex.exit_code)


commands = [explain]
