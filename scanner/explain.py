"""``deliverscan explain FILE``: everything every detector saw in one file, for the person
deciding on an approval: the content type, each detector's coverage including its negative
results ("no C2PA store"), every finding with its full evidence (a C2PA manifest chain as a
tree), the policy mode of each finding, the approvals that match, and the verdict.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from detectors.api import AssetContext, Shared
from detectors.model import AI, ARCHIVE, REVIEW, VALUE_LIMIT, AssetResult, display_path, truncate
from detectors.registry import Loaded, load_all
from scanner.configure import SetupError, configure
from scanner.policy import OVERRIDABLE, Policy
from scanner.runner import ScanConfig, run_scan
from scanner.scan_cmd import detector_settings, with_detector_flags
from scanner.usererror import UserError

# Evidence keys that hold a C2PA manifest chain (rendered as a tree, active manifest first).
CHAIN_KEYS = ("manifests", "chain", "manifest_chain", "ingredients")


@dataclass
class Explained:
    """One file scanned by every detector that can run, plus what the policy says."""

    result: AssetResult
    detectors: list[Loaded]
    policy: Policy
    exit_code: int
    off_by_default: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # detector -> explain() output


def scan_one(path: str, config: ScanConfig, detectors: list[Loaded],
             off_by_default: list[str] = ()) -> list[Explained]:  # type: ignore[assignment]
    """The scan path itself on one file (``run_scan``: sniffing, detectors, content hash,
    policy, verdict and exit code exactly as ``scan`` decides them), plus each detector's
    ``explain`` hook (what it saw beyond its findings, e.g. a C2PA manifest store). An archive
    gives each member's explanation, then its own (members' copies are gone by then: their
    hooks are not run)."""
    if os.path.isdir(path):
        raise click.BadParameter(f"{path} is a folder; explain takes files (use scan)")
    one = dataclasses.replace(config, roots=[path], keep_results=True, jobs=0, cache_path=None,
                              hash_all=True, allow_empty=True, skip_paths=frozenset(),
                              replay=[])
    report = run_scan(one, detectors=detectors)
    return [_explained(result, config, detectors, report.summary.exit_code, off_by_default)
            for result in report.results]


def _explained(result: AssetResult, config: ScanConfig, detectors: list[Loaded],
               exit_code: int, off_by_default: list[str]) -> Explained:
    extras: dict[str, Any] = {}
    shared = Shared(config.options)
    try:
        for item in detectors:
            det = item.detector
            hook = getattr(det, "explain", None)
            if det is None or not item.available or not callable(hook) or \
                    result.asset.skip_reason or result.asset.walk_error or \
                    result.asset.container is not None or result.asset.kind == ARCHIVE:
                continue
            try:
                extras[item.name] = hook(result.asset, AssetContext(result.asset, shared))
            except Exception as exc:  # noqa: BLE001 - an explain hook must not hide the result
                extras[item.name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        shared.close()
    return Explained(result, detectors, config.policy, exit_code,
                     list(off_by_default), extras)


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


def _brief(extra: Any) -> str:
    """One line for an ``explain`` hook's output when ``--full`` is not asked."""
    if isinstance(extra, dict):
        store = extra.get("manifest_store")
        if isinstance(store, dict):
            manifests = store.get("manifests") or {}
            return (f"manifest store with {len(manifests)} manifest(s), active "
                    f"{store.get('active_manifest')} (--full or --format json shows it whole)")
        if "manifest_store" in extra:
            return "no manifest store" + (f" ({extra['structure']})" if extra.get("structure")
                                          else "")
    return f"{len(tree_lines(extra))} line(s) (--full shows them)"


def text_lines(ex: Explained, full: bool = False) -> list[str]:
    r = ex.result
    a = r.asset
    out = [display_path(a.path)]
    out.append(f"  {a.kind} · {a.media_type} · {a.size} bytes"
               + (f" · sha256 {r.sha256}" if r.sha256 else ""))
    for note in a.notes:
        out.append(f"  note: {note}")
    if a.skip_reason:
        out.append(f"  skipped: {a.skip_reason}")
    state = r.verdict.upper()
    if r.verdict in (AI, REVIEW):
        state += " — BLOCKING" if r.blocking else " — not blocking"
        if any(f.approval for f in r.findings):
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
        out.append(f"  error: {e.source}: {e.message}")
    approvals = [f.approval for f in r.findings]
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
    matching = ex.policy.matching_approvals(r.sha256)
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
        if full:
            out.append(f"{name} explain:")
            out.extend(tree_lines(extra, 1))
        else:
            out.append(f"{name}: {_brief(extra)}")
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
                       "line": e.line} for e in ex.policy.matching_approvals(r.sha256)],
        "explain": ex.extras,
        "warnings": list(ex.policy.warnings),
        "exit_code": ex.exit_code,
    }


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True))
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              envvar="DELIVERSCAN_POLICY", show_envvar=True,
              help="Policy TOML: shows each finding's mode and the approvals that match.")
@click.option("--show-prompts", is_flag=True, help="Show prompts/workflows whole.")
@click.option("--enable", "enable", multiple=True, metavar="DETECTOR",
              help="Also run a detector that is off by default.")
@click.option("--set", "sets", multiple=True, metavar="DETECTOR.KEY=VALUE",
              help="A detector setting (deliverscan detectors --verbose lists them).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--full", is_flag=True,
              help="Text: also what each detector saw beyond its findings (e.g. the whole C2PA "
                   "manifest store; JSON always has it).")
@with_detector_flags
def explain(files: tuple[str, ...], policy_path: str | None, show_prompts: bool,
            enable: tuple[str, ...], sets: tuple[str, ...], fmt: str, full: bool,
            **detector_flags: Any) -> None:
    """Everything every detector saw in FILES, and why each is (or is not) flagged: coverage
    and negative results, every finding with its evidence, the full C2PA manifest store of a
    signed file (as c2patool shows it), policy modes and approvals.

    Exit code as for scan (the worst of the files): 0 not blocking, 1 blocking, 2 could not
    be checked."""
    ctx = click.get_current_context()
    loaded = load_all()
    given, _ = detector_settings(ctx, detector_flags, sets)
    explained = []
    for file in files:
        try:
            config, chosen = configure([file], policy=policy_path,
                                       options={"show_prompts": True} if show_prompts else {},
                                       settings=given, enable=enable, allow_empty=True,
                                       loaded=loaded)
        except SetupError as exc:
            raise UserError(str(exc)) from None
        names = {d.name for d in chosen}
        explained.extend(scan_one(file, config, chosen,
                                  [d.name for d in loaded if d.name not in names]))
    if fmt == "json":
        docs = [to_json(ex) for ex in explained]
        click.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2,
                              ensure_ascii=False, default=str))
    else:
        click.echo("\n\n".join("\n".join(text_lines(ex, full)) for ex in explained))
    codes = {ex.exit_code for ex in explained}
    sys.exit(2 if 2 in codes else 1 if 1 in codes else 0)


commands = [explain]
