"""Every metadata rule carries its own true/false-positive samples (``samples`` in
``detectors/rules/*.toml``, as gitleaks validates each rule against its examples), and every rule
and vendor cites a public source a user can open.

A sample is evaluated alone, as one field of a file, through ``Pack.evaluate``: exactly what a scan
does with that field. So a ``fallback`` rule's sample is judged with fallback semantics: the
fallback fires only when no regular rule claims the same field, and a fallback's non-firing
sample may be a field a regular rule claims (``meta.sd.parameters-key`` stays silent on A1111
infotext because ``meta.a1111.parameters`` owns it). Only the rule that owns the sample is checked;
other rules may fire on it. Binary fixtures (``fixtures = [...]``) are covered by
tests/test_rules_pack.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

import detectors.rules as rules_mod
from detectors.model import Field
from detectors.rules import Rule, RuleError, Sample, load_pack
from detectors.vocab import vendors


def _cases() -> list[tuple[Rule, Sample]]:
    return [(rule, sample) for rule in load_pack().rules for sample in rule.samples]


def _case_id(case: tuple[Rule, Sample]) -> str:
    rule, sample = case
    n = rule.samples.index(sample) + 1
    return f"{rule.id}-{'fires' if sample.fires else 'quiet'}-{n}"


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_rule_sample(case: tuple[Rule, Sample]) -> None:
    rule, sample = case
    hits = load_pack().evaluate([Field(sample.field, sample.value, "sample")])
    fired = [h for h in hits if h.rule.id == rule.id]
    if sample.fires:
        assert fired, (f"{rule.id} should fire on {sample.field}={sample.value!r}; "
                       f"fired: {[h.rule.id for h in hits]}")
        assert all(h.verdict in ("ai", "review") for h in fired)
    else:
        assert not fired, f"{rule.id} must not fire on {sample.field}={sample.value!r}"


def test_every_rule_has_a_firing_and_a_quiet_sample() -> None:
    rules = load_pack().rules
    assert rules
    missing = [r.id for r in rules
               if not any(s.fires for s in r.samples) or all(s.fires for s in r.samples)]
    assert missing == []


URL = re.compile(r"https?://\S+")


def _check_reference(owner: str, reference: str) -> None:
    assert reference.startswith(("http://", "https://")), f"{owner}: {reference!r}"
    assert "ai-markers" not in reference.lower(), f"{owner}: {reference!r}"
    # " ; "-separated; each part starts with a URL (a short hint may follow it)
    for part in reference.split(" ; "):
        assert URL.match(part.strip()), f"{owner}: {part!r} does not start with a URL"
    assert "shared/reference" not in reference and "detectors/" not in reference, owner


def test_rule_references_are_public_urls() -> None:
    for rule in load_pack().rules:
        _check_reference(rule.id, rule.reference)


def test_vendor_references_are_public_urls() -> None:
    table = vendors()
    assert table
    for vendor in table:
        _check_reference(vendor.id, vendor.reference)


# --- malformed samples are refused at load time ---------------------------------------------

FakePack = Callable[..., None]


@pytest.fixture
def fake_pack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePack]:
    """Load rule files given as (name, text) instead of the real pack; restored afterwards."""

    def use(*files: tuple[str, str]) -> None:
        monkeypatch.setattr(rules_mod, "_files", lambda: list(files))
        load_pack.cache_clear()

    yield use
    monkeypatch.undo()
    load_pack.cache_clear()


RULE = '''version = "1.0"
[[rule]]
id = "meta.x.y"
tool = "X"
fields = ["png:text:x", "exiftool:*:x"]
match = "regex"
pattern = "^gen"
verdict = "ai"
tier = "declared"
reference = "https://example.org/x"
'''


def test_well_formed_samples_load(fake_pack: FakePack) -> None:
    fake_pack(("a.toml", RULE + '''samples = [
    { field = "PNG:Text:X", value = "generated", fires = true },
    { field = "exiftool:PNG:X", value = "", fires = false },
]
'''))
    (rule,) = load_pack().rules
    assert rule.samples == (Sample("PNG:Text:X", "generated", True),
                            Sample("exiftool:PNG:X", "", False))


def test_samples_are_optional(fake_pack: FakePack) -> None:
    fake_pack(("a.toml", RULE))
    assert load_pack().rules[0].samples == ()


@pytest.mark.parametrize(("samples", "message"), [
    ('samples = "generated"', "samples must be an array"),
    ('samples = ["generated"]', "sample 1 must be an inline table"),
    ('samples = [{ value = "gen", fires = true }]', "field must be a non-empty string"),
    ('samples = [{ field = 3, value = "gen", fires = true }]', "field must be a non-empty string"),
    ('samples = [{ field = "png:text:other", value = "gen", fires = true }]',
     "not one of the rule's fields"),
    ('samples = [{ field = "exif:Software", value = "gen", fires = true }]',
     "not one of the rule's fields"),
    ('samples = [{ field = "png:text:x", fires = true }]', "value must be a string"),
    ('samples = [{ field = "png:text:x", value = 42, fires = true }]', "value must be a string"),
    ('samples = [{ field = "png:text:x", value = "gen" }]', "fires must be true or false"),
    ('samples = [{ field = "png:text:x", value = "gen", fires = "yes" }]',
     "fires must be true or false"),
    ('samples = [{ field = "png:text:x", value = "gen", fires = 1 }]',
     "fires must be true or false"),
    ('samples = [{ field = "png:text:x", value = "gen", fires = true, note = "x" }]',
     "unknown keys"),
    ('samples = [{ field = "png:text:x", value = "gen", fires = true },\n'
     '           { field = "png:text:x", value = "x", fire = false }]', "sample 2: unknown keys"),
])
def test_malformed_samples_are_refused(fake_pack: FakePack, samples: str, message: str) -> None:
    fake_pack(("a.toml", RULE + samples + "\n"))
    with pytest.raises(RuleError, match=re.escape("rule meta.x.y: ")) as err:
        load_pack()
    assert message in str(err.value)


def test_real_pack_is_restored_after_fake_packs() -> None:
    assert len(load_pack().rules) >= 30
    assert all(r.samples for r in load_pack().rules)
