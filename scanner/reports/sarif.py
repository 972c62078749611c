"""SARIF 2.1.0: findings as results for code-scanning dashboards and CI annotations.

One run; rules from the findings' rule ids, described by the detectors that declare them (the
registry's catalog); one result per finding with the file as an artifact location (file URIs, relative to
``SRCROOT`` = the working directory when the path was given relative) and the field as a
logical location. Approved findings stay, as *suppressed* results carrying the approval as
justification (as MegaLinter keeps suppressed results, rather than dropping them). Files that
could not be read become tool execution notifications, and ``executionSuccessful`` is false;
files that were not scanned (clutter, excluded, special, not media) become ``note``
notifications, so the report names every path it did not read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote_from_bytes

from detectors.model import AI, SKIPPED, Approval, AssetResult, Finding, Report
from detectors.registry import catalog
from detectors.remote import is_remote
from scanner.headline import headline

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "SRCROOT"


def artifact_location(path: str) -> dict[str, str]:
    """A file URI for ``path``: absolute paths as ``file://``, relative ones against SRCROOT.
    Bytes are percent-encoded exactly, so undecodable names survive. An object-store URL
    (``s3://bucket/key``) is its own URI."""
    if is_remote(path):
        return {"uri": path}
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    norm = os.path.normpath(path).replace(os.sep, "/")
    return {"uri": quote_from_bytes(os.fsencode(norm), safe="/"), "uriBaseId": SRCROOT}


def _approval_text(a: Approval) -> str:
    text = f"{a.ref} approved by {a.by}"
    if a.date:
        text += f" on {a.date}"
    if a.expires:
        text += f" (expires {a.expires})"
    return f"{text}: {a.reason}"


class SarifWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[dict[str, Any]] = []
        self.rules: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.artifacts: dict[str, dict[str, Any]] = {}

    def _rule_index(self, f: Finding) -> int:
        if f.rule not in self.rules:
            self.rules[f.rule] = {"detector": f.detector, "verdict": f.verdict, "tier": f.tier,
                                  "index": len(self.rules), "example": f.message}
        return self.rules[f.rule]["index"]

    def add(self, result: AssetResult) -> None:
        if result.sequence is not None:  # SARIF names files: each frame that has something
            for _, frame in result.sequence.frames:
                self.add(frame)
            return
        loc = artifact_location(result.asset.path)
        if result.findings and result.asset.path not in self.artifacts:
            art: dict[str, Any] = {"location": loc, "length": result.asset.size,
                                   "mimeType": result.asset.media_type}
            if result.sha256:
                art["hashes"] = {"sha-256": result.sha256}
            self.artifacts[result.asset.path] = art
        for f in result.findings:
            a = f.approval
            props: dict[str, Any] = {"detector": f.detector, "verdict": f.verdict,
                                     "tier": f.tier, "value": f.value,
                                     "assetVerdict": result.verdict,
                                     "assetBlocking": result.blocking, "evidence": f.evidence}
            entry: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": self._rule_index(f),
                "level": "error" if f.verdict == AI else "warning",
                "kind": "fail",
                "message": {"text": f"{f.message} ({f.location} = {f.value[:200]})"},
                "locations": [{
                    "physicalLocation": {"artifactLocation": loc},
                    "logicalLocations": [{"fullyQualifiedName": f.location, "kind": "element"}],
                }],
                "properties": props,
            }
            if result.sha256:
                entry["partialFingerprints"] = {"contentSha256/v1": result.sha256}
            if a is not None:
                props["approval"] = a.to_dict()
                entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                          "justification": _approval_text(a)}]
            self.results.append(entry)
        for e in result.errors:
            self.notifications.append({
                "level": "error",
                "message": {"text": f"{e.source}: {e.message}"},
                "locations": [{"physicalLocation": {"artifactLocation": loc}}],
            })
        if result.verdict == SKIPPED:  # every path that was not scanned is named
            self.notifications.append({
                "level": "note",
                "message": {"text": f"not scanned: {result.asset.skip_reason or 'skipped'}"},
                "locations": [{"physicalLocation": {"artifactLocation": loc}}],
            })

    def _driver_rules(self) -> list[dict[str, Any]]:
        """Each reported rule, described by the detector that declares it."""
        cat = catalog()
        out = []
        for rid, seen in sorted(self.rules.items(), key=lambda kv: kv[1]["index"]):
            info = cat.rule(rid)
            rule: dict[str, Any] = {
                "id": rid,
                "shortDescription": {"text": info.title if info else str(seen["example"])},
                "defaultConfiguration": {"level": "error" if seen["verdict"] == AI
                                         else "warning"},
                "properties": {"detector": seen["detector"], "verdict": seen["verdict"],
                               "tier": seen["tier"]},
            }
            if info is not None:
                if info.tool:
                    rule["properties"]["tool"] = info.tool
                if info.fields:
                    rule["properties"]["fields"] = list(info.fields)
                first = info.reference.split(" ", 1)[0]
                if first.startswith(("http://", "https://")):
                    rule["helpUri"] = first  # the first URL; all of them in the help text
                if info.reference:
                    rule["help"] = {"text": info.reference}
            out.append(rule)
        return out

    def finish(self, report: Report) -> None:
        rules = self._driver_rules()
        for w in report.warnings:
            self.notifications.append({"level": "warning", "message": {"text": w}})
        s = report.summary
        run: dict[str, Any] = {
            "tool": {"driver": {
                "name": "deliverscan",
                "version": str(report.tool.get("version") or "0"),
                "rules": rules,
                "properties": {"rulepack": report.tool.get("rulepack"),
                               "c2pa_python": report.tool.get("c2pa_python"),
                               "exiftool": report.tool.get("exiftool")},
            }},
            "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
            "invocations": [{
                "executionSuccessful": s.exit_code != 2,
                "exitCode": s.exit_code,
                "startTimeUtc": report.started.replace("+00:00", "Z"),
                "endTimeUtc": report.finished.replace("+00:00", "Z"),
                "toolExecutionNotifications": self.notifications,
            }],
            "artifacts": list(self.artifacts.values()),
            "results": self.results,
            "properties": {"summary": s.to_dict(), "roots": report.roots,
                           "headline": headline(s).text},
        }
        doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
        json.dump(doc, self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")
        self.out.flush()
