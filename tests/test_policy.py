"""Policy: parsing errors with line numbers, rule/detector modes, approvals by content hash
(with path glob, rule ids, expiry), the tamper case, and detector options. Real scans of real
PNG files through the test plugin detector (flags ``AI-MARK`` / ``REVIEW-MARK`` bytes)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from detectors.api import Options
from detectors.model import Report
from scanner.cli import main
from scanner.policy import Policy, PolicyError
from scanner.runner import ScanConfig, run_scan


def ai_png(path: Path, color: tuple[int, int, int], text: str = "AI-MARK prompt") -> str:
    """A real PNG whose tEXt ``parameters`` chunk carries the marker; returns its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (32, 24), color).save(path, pnginfo=info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_policy(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "policy" / "policy.toml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


def scan(root: Path, policy: Policy, detectors) -> Report:  # type: ignore[no-untyped-def]
    return run_scan(ScanConfig(roots=[str(root)], policy=policy), detectors=detectors)


def by_name(report: Report) -> dict[str, object]:
    return {Path(r.asset.path).name: r for r in report.results}


def approval(sha: str, **extra: str) -> str:
    lines = [f'sha256 = "{sha}"', 'ref = "VFX-1"', 'by = "Ann Lee"', 'reason = "bg plate"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "[[approvals]]\n" + "\n".join(lines) + "\n"


# ---- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "line", "needle"), [
    ('fail_on = ["ai"\n', 2, "TOML syntax error"),
    ('fail_on = ["ai"]\nmode = "strict"\n', 2, "unknown key 'mode'"),
    ('fail_on = ["ai", "maybe"]\n', 1, "fail_on must be"),
    ('[detectors.c2pa]\nverify_limit_mb = "big"\n', 2, "verify_limit_mb must be"),
    ('[rules]\n"c2pa.*" = "sometimes"\n', 2, "rules.c2pa.* must be one of"),
    ('[[approvals]]\nsha256 = "' + "a" * 64 + '"\nref = "T"\nby = "B"\nreason = "R"\n\n'
     '[[approvals]]\nsha256 = "abc"\nref = "T2"\nby = "B"\nreason = "R"\n', 8,
     "approvals[1].sha256 must be 64 hex digits"),
    ('[[approvals]]\nsha256 = "' + "a" * 64 + '"\nref = "T"\nreason = "R"\n', 1,
     "approvals[0].by is required"),
    ('[[approvals]]\nsha256 = "' + "a" * 64 + '"\nref = "T"\nby = "B"\nreason = "R"\n'
     'expires = "next year"\n', 6, "expires must be a date"),
])
def test_parse_errors_name_file_and_line(tmp_path: Path, body: str, line: int, needle: str) -> None:
    p = write_policy(tmp_path, body)
    with pytest.raises(PolicyError) as info:
        Policy.load(str(p))
    assert f"{p}:{line}" in str(info.value)
    assert needle in str(info.value)


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    p = write_policy(tmp_path, 'fail_on = "sometimes"\ndefault_mode = "off"\n')
    with pytest.raises(PolicyError) as info:
        Policy.load(str(p))
    assert str(info.value).splitlines() == [
        f"{p}:1: fail_on must be \"ai\" or [\"ai\", \"review\"], got 'sometimes'",
        f"{p}:2: default_mode must be \"blocking\" or \"overridable\", got 'off'",
    ]


def test_cli_scan_with_broken_policy_exits_2_with_line(tmp_path: Path) -> None:
    p = write_policy(tmp_path, '[[approvals]]\nsha256 = 12\n')
    (tmp_path / "x.bin").write_bytes(b"x")
    res = CliRunner().invoke(main, ["scan", str(tmp_path / "x.bin"), "--policy", str(p)])
    assert res.exit_code == 2
    assert f"{p}:2: approvals[0].sha256 must be 64 hex digits" in res.output


def test_missing_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"x")
    res = CliRunner().invoke(main, ["scan", str(tmp_path / "x.bin"), "--policy",
                                    str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "cannot read policy" in res.output


# ---- modes -----------------------------------------------------------------------------------

def test_fail_on_review_blocks_review_findings(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "d"
    tree.mkdir()
    (tree / "r.bin").write_bytes(b"REVIEW-MARK")
    assert scan(tree, Policy.default(), marker_only).summary.exit_code == 0
    pol = Policy.load(str(write_policy(tmp_path, 'fail_on = ["ai", "review"]\n')))
    assert scan(tree, pol, marker_only).summary.exit_code == 1


def test_off_rule_drops_finding_and_recomputes_verdict(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "d"
    tree.mkdir()
    (tree / "both.bin").write_bytes(b"AI-MARK REVIEW-MARK")
    pol = Policy.load(str(write_policy(tmp_path, '[rules]\n"fake.ai" = "off"\n')))
    r = by_name(scan(tree, pol, marker_only))["both.bin"]
    assert [f.rule for f in r.findings] == ["fake.review"]
    assert r.verdict == "review" and r.blocking is False
    assert any("policy: 1 finding(s) turned off" in n for c in r.coverage for n in c.notes)


def test_mode_precedence_exact_then_longest_glob_then_detector(tmp_path: Path,
                                                               fake_plugin: Path) -> None:
    from detectors.model import Finding

    pol = Policy.loads(textwrap.dedent("""
        default_mode = "blocking"
        [detectors.fakemarker]
        mode = "overridable"
        [rules]
        "fake.*" = "off"
        "fake.rev*" = "blocking"
        "fake.ai" = "overridable"
    """))

    def mode(rule: str, det: str = "fakemarker") -> str:
        return pol.mode_for(Finding(det, rule, "ai", "declared", "l", "v", "m"))

    assert mode("fake.ai") == "overridable"  # exact id first
    assert mode("fake.review") == "blocking"  # then the longest matching glob
    assert mode("other.rule") == "overridable"  # then the detector's mode
    assert mode("other.rule", det="c2pa") == "blocking"  # then default_mode


# ---- approvals -------------------------------------------------------------------------------

@pytest.fixture
def delivery(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    tree = tmp_path / "delivery"
    shas = {
        "plate.png": ai_png(tree / "plates" / "plate.png", (200, 0, 0)),
        "poster.png": ai_png(tree / "art" / "poster.png", (0, 200, 0)),
        "still.png": ai_png(tree / "art" / "still.png", (0, 0, 200)),
    }
    Image.new("RGB", (8, 8)).save(tree / "clean.png")
    return tree, shas


def test_approval_by_hash_waives_only_that_file(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    pol = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"]))))
    report = scan(tree, pol, marker_only)
    r = by_name(report)
    assert r["plate.png"].verdict == "ai" and r["plate.png"].blocking is False
    assert r["plate.png"].findings[0].approval.ref == "VFX-1"
    assert r["plate.png"].findings[0].approval.sha256 == shas["plate.png"]
    assert r["poster.png"].blocking and r["still.png"].blocking
    assert r["clean.png"].sha256 is None  # no findings: never hashed
    assert report.summary.exit_code == 1
    assert report.summary.approved_findings == 1 and report.summary.blocking_assets == 2


def test_rename_keeps_approval_edit_voids_it(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    pol_path = write_policy(tmp_path, approval(shas["plate.png"]))
    (tree / "plates" / "plate.png").rename(tree / "plates" / "renamed.png")
    r = by_name(scan(tree, Policy.load(str(pol_path)), marker_only))["renamed.png"]
    assert r.blocking is False and r.findings[0].approval is not None
    # Tamper: one byte appended after IEND; the PNG still decodes, the hash does not match.
    with open(tree / "plates" / "renamed.png", "ab") as fh:
        fh.write(b"\0")
    r = by_name(scan(tree, Policy.load(str(pol_path)), marker_only))["renamed.png"]
    assert r.blocking is True and [f.approval for f in r.findings] == [None]


def test_approval_with_path_glob(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    good = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"],
                                                           path='"plates/*.png"'))))
    assert by_name(scan(tree, good, marker_only))["plate.png"].blocking is False
    bad = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"],
                                                          path='"art/*.png"'))))
    report = scan(tree, bad, marker_only)
    assert by_name(report)["plate.png"].blocking is True
    assert any("not its path glob 'art/*.png'" in w for w in report.warnings)


def test_expired_approval_is_ignored_with_warning(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    pol = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"],
                                                          expires="2024-01-31"))))
    report = scan(tree, pol, marker_only)
    assert by_name(report)["plate.png"].blocking is True
    assert any("expired on 2024-01-31: ignored" in w for w in report.warnings)
    # The expiry day itself is still valid.
    pol.today = _dt.date(2024, 1, 31)
    assert by_name(scan(tree, pol, marker_only))["plate.png"].blocking is False


def test_approval_for_other_rule_does_not_waive(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    pol = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"],
                                                          rules='["c2pa.*"]'))))
    report = scan(tree, pol, marker_only)
    assert by_name(report)["plate.png"].blocking is True
    assert any("waives none of its findings (rules c2pa.*)" in w for w in report.warnings)
    pol = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"],
                                                          rules='["fake.ai"]'))))
    assert by_name(scan(tree, pol, marker_only))["plate.png"].blocking is False


def test_blocking_rule_cannot_be_approved(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    body = '[detectors.fakemarker]\nmode = "blocking"\n\n' + approval(shas["plate.png"])
    report = scan(tree, Policy.load(str(write_policy(tmp_path, body))), marker_only)
    r = by_name(report)["plate.png"]
    assert r.blocking is True and [f.approval for f in r.findings] == [None]
    assert any("cannot waive fake.ai" in w and "blocking" in w for w in report.warnings)


def test_approval_covers_each_overridable_finding_separately(tmp_path: Path, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "d"
    tree.mkdir()
    f = tree / "both.bin"
    f.write_bytes(b"AI-MARK REVIEW-MARK")
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    body = ('fail_on = ["ai", "review"]\n[rules]\n"fake.review" = "blocking"\n\n'
            + approval(sha))
    r = by_name(scan(tree, Policy.load(str(write_policy(tmp_path, body))), marker_only))["both.bin"]
    got = {fi.rule: fi.approval is not None for fi in r.findings}
    assert got == {"fake.ai": True, "fake.review": False}
    assert r.blocking is True  # the blocking review finding still fails the run


def test_needs_hash_only_with_findings_and_approvals(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    report = scan(tree, Policy.default(), marker_only)
    assert all(r.sha256 is None for r in report.results)  # no approvals: no full reads
    pol = Policy.load(str(write_policy(tmp_path, approval(shas["plate.png"]))))
    report = scan(tree, pol, marker_only)
    hashed = {Path(r.asset.path).name for r in report.results if r.sha256}
    assert hashed == {"plate.png", "poster.png", "still.png"}


def test_policy_inside_scanned_tree_warns(tmp_path: Path, delivery, marker_only) -> None:  # type: ignore[no-untyped-def]
    tree, shas = delivery
    inside = tree / "policy.toml"
    inside.write_text(approval(shas["plate.png"]))
    res = CliRunner().invoke(main, ["scan", str(tree), "--jobs", "0", "--no-cache",
                                    "--policy", str(inside)])
    assert "lies inside scanned root" in res.output


# ---- detector options ------------------------------------------------------------------------

def test_configure_maps_detector_options(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "anchors.pem").write_text("-----BEGIN CERTIFICATE-----\nX\n")
    (tmp_path / "policy" / "temp-ai.sqlite").write_bytes(b"")
    p = write_policy(tmp_path, """
        [detectors.c2pa]
        verify_limit_mb = 64
        verify_all = true
        trust_anchors = "anchors.pem"
        [detectors.register]
        path = "temp-ai.sqlite"
        [detectors.watermark]
        max_pixels = 1000
        video_seconds = 2
    """)
    opts = Options()
    Policy.load(str(p)).configure(opts)
    assert opts.settings["c2pa"] == {"verify_limit_mb": 64, "verify_all": True,
                                     "trust_anchors": str(tmp_path / "policy" / "anchors.pem")}
    assert opts.settings["register"] == {"path": str(tmp_path / "policy" / "temp-ai.sqlite")}
    assert opts.settings["watermark"] == {"max_pixels": 1000, "video_seconds": 2.0}


@pytest.mark.parametrize(("body", "line", "needle"), [
    ('[detectors.c2pa]\nthreshold = 0.8\n', 2, "detectors.c2pa: unknown key 'threshold'"),
    ('[detectors.watermark]\nmax_pixels = -5\n', 2, "max_pixels must be a whole number >= 0"),
    ('[detectors.c2pz]\nmode = "off"\n', 1, "unknown detector 'c2pz'"),
    ('[rules]\n"c2pa.dst.trainedAlgoritmicMedia" = "blocking"\n', 2,
     "unknown rule id 'c2pa.dst.trainedAlgoritmicMedia'"),
    ('[rules]\n"watermark.sd9.*" = "off"\n', 2, "'watermark.sd9.*' matches no rule id"),
    ('[[approvals]]\nsha256 = "' + "a" * 64 + '"\nref = "T"\nby = "B"\nreason = "R"\n'
     'rules = ["meta.comfyui.promt"]\n', 6, "unknown rule id 'meta.comfyui.promt'"),
])
def test_unknown_detectors_settings_and_rule_ids_are_errors(tmp_path: Path, body: str, line: int,
                                                            needle: str) -> None:
    """A misspelt rule id or setting would silently change nothing: refused with its line."""
    p = write_policy(tmp_path, body)
    with pytest.raises(PolicyError) as info:
        Policy.load(str(p))
    assert f"{p}:{line}" in str(info.value) and needle in str(info.value), str(info.value)


def test_known_rule_ids_and_globs_are_accepted(tmp_path: Path) -> None:
    p = write_policy(tmp_path, '[rules]\n"c2pa.dst.trainedAlgorithmicMedia" = "blocking"\n'
                               '"watermark.*.partial" = "off"\n"meta.comfyui.prompt" = "off"\n'
                               '"register.*" = "blocking"\n')
    assert len(Policy.load(str(p)).rule_modes) == 4


def test_missing_option_file_is_reported_with_line(tmp_path: Path) -> None:
    p = write_policy(tmp_path, '[detectors.c2pa]\n\ntrust_anchors = "nope.pem"\n')
    with pytest.raises(PolicyError, match=r":3: detectors.c2pa.trust_anchors: no such file"):
        Policy.load(str(p))
