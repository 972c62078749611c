"""JUnit XML: one testcase per asset, for CI systems and QC dashboards that read test results.

``failure`` for an asset with blocking findings, ``error`` for a file that could not be read or
checked, ``skipped`` for files no detector applies to (or that were not opened: FIFOs,
symlinks). Approved and non-blocking findings are listed in the testcase's ``system-out`` so
the approval is visible where the run is reviewed. Follows the common (Jenkins / Ant) JUnit
schema; validated in tests/test_reports_formats.py.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from typing import TextIO

from detectors.model import SKIPPED, AssetResult, Finding, Report
from scanner.headline import headline
from scanner.reports.table import display_path, strongest

# Characters XML 1.0 cannot carry at all (escaped visibly instead of dropped).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _finding_line(f: Finding) -> str:
    return (f"{f.verdict.upper()} {f.detector}:{f.rule} [{f.tier}] {f.location} = "
            f"{f.value} — {f.message}")


class JunitWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.cases: list[ET.Element] = []
        self.failures = 0
        self.errors = 0
        self.skipped = 0
        self.time = 0.0

    def add(self, result: AssetResult) -> None:
        seconds = sum(c.seconds for c in result.coverage)
        self.time += seconds
        case = ET.Element("testcase", {
            "classname": f"deliverscan.{result.asset.kind}",
            "name": xml_text(display_path(result.asset.path)),
            "time": f"{seconds:.3f}",
        })
        open_findings = [f for f in result.findings if f.approval is None]
        if result.verdict == SKIPPED:
            reason = result.asset.skip_reason or "no detector applies to this file"
            ET.SubElement(case, "skipped", {"message": xml_text(reason)})
            self.skipped += 1
        if result.errors:
            first = result.errors[0]
            err = ET.SubElement(case, "error", {
                "type": "incomplete",
                "message": xml_text(f"{first.source}: {first.message}"),
            })
            err.text = xml_text("\n".join(f"{e.source}: {e.message}" for e in result.errors))
            self.errors += 1
        if result.blocking and open_findings:
            top = strongest(open_findings)[0]
            fail = ET.SubElement(case, "failure", {
                "type": top.verdict,
                "message": xml_text(f"{top.detector}:{top.rule} {top.message}"),
            })
            fail.text = xml_text("\n".join(_finding_line(f) for f in strongest(open_findings)))
            self.failures += 1
        elif result.blocking:  # an archive: the evidence is its members' (their own cases)
            said = result.asset.notes[-1] if result.asset.notes else "blocking members"
            ET.SubElement(case, "failure", {"type": result.verdict, "message": xml_text(said)})
            self.failures += 1
        notes = []
        for f in result.findings:
            a = f.approval
            if a is not None:
                notes.append(f"APPROVED {a.ref} by {a.by} ({a.date or '?'}"
                             f"{', expires ' + a.expires if a.expires else ''}): {a.reason}\n"
                             f"  {_finding_line(f)}")
            elif not result.blocking:
                notes.append(f"not blocking under this policy: {_finding_line(f)}")
        if result.sha256 and result.findings:
            notes.append(f"sha256 {result.sha256}")
        if notes:
            ET.SubElement(case, "system-out").text = xml_text("\n".join(notes))
        self.cases.append(case)

    def finish(self, report: Report) -> None:
        counts = {"tests": str(len(self.cases)), "failures": str(self.failures),
                  "errors": str(self.errors), "skipped": str(self.skipped),
                  "time": f"{self.time:.3f}"}
        # The common schema has no ``skipped`` count on <testsuites>, only on <testsuite>.
        outer = {k: v for k, v in counts.items() if k != "skipped"}
        root = ET.Element("testsuites", {"name": "deliverscan", **outer})
        suite = ET.SubElement(root, "testsuite", {
            "name": "deliverscan", **counts,
            "timestamp": report.started[:19], "hostname": xml_text(socket.gethostname()),
        })
        props = ET.SubElement(suite, "properties")
        s = report.summary
        h = headline(s)
        for name, value in (("tool.version", report.tool.get("version")),
                            ("rulepack", report.tool.get("rulepack")),
                            ("roots", ", ".join(display_path(r) for r in report.roots)),
                            ("headline", h.text), ("verdict", s.verdict),
                            ("exit_code", s.exit_code),
                            ("approved_findings", s.approved_findings)):
            ET.SubElement(props, "property", {"name": name, "value": xml_text(str(value))})
        suite.extend(self.cases)
        ET.SubElement(suite, "system-out").text = xml_text(
            f"Verdict: {h.text} (exit {s.exit_code})")
        if report.warnings:
            ET.SubElement(suite, "system-err").text = xml_text("\n".join(report.warnings))
        ET.indent(root)
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self.out.write(ET.tostring(root, encoding="unicode"))
        self.out.write("\n")
        self.out.flush()
