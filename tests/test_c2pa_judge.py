"""Judging rules on manifest-store shapes c2pa-python returns (including shapes our own signer
cannot produce: https and bare DST aliases, templates, softwareAgentIndex, foreign vendors)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from detectors.c2pa_judge import (
    StoreContext,
    judge_store,
    manifest_order,
    validation_text,
    walk_assertion,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SIG = {"alg": "Es256", "issuer": "Example Org", "common_name": "Example Signer",
       "time": "2025-05-01T10:00:00+00:00"}
VERIFIED = StoreContext("embedded", True)
UNVERIFIED = StoreContext("embedded", False, "> verify limit")


def store(*actions: dict[str, Any], extra: list[dict[str, Any]] | None = None,
          state: str = "Valid", **manifest: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"claim_generator_info": [{"name": "SomeApp", "version": "2"}],
                         "title": "x.jpg", "signature_info": dict(SIG), "label": "urn:c2pa:a",
                         "assertions": [{"label": "c2pa.actions.v2",
                                         "data": {"actions": list(actions)}}] + (extra or [])}
    m.update(manifest)
    status = [] if state == "Trusted" else [
        {"code": "signingCredential.untrusted", "url": "self#jumbf=/c2pa/urn:c2pa:a/c2pa.signature"}]
    return {"active_manifest": "urn:c2pa:a", "manifests": {"urn:c2pa:a": m},
            "validation_status": status, "validation_state": state}


def rules_of(s: dict[str, Any], sc: StoreContext = VERIFIED) -> dict[str, Any]:
    return {f.rule: f for f in judge_store(s, sc).findings}


@pytest.mark.parametrize("value", [
    IPTC + "trainedAlgorithmicMedia",
    "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "trainedAlgorithmicMedia",
    " http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\n",
    "digsrctype:trainedAlgorithmicMedia",
])
def test_ai_source_type_spellings(value: str) -> None:
    f = rules_of(store({"action": "c2pa.created", "digitalSourceType": value}))
    assert list(f) == ["c2pa.dst.trainedAlgorithmicMedia"]
    assert f["c2pa.dst.trainedAlgorithmicMedia"].value == value  # the exact bytes, as found


@pytest.mark.parametrize(("value", "rule", "verdict"), [
    (IPTC + "compositeWithTrainedAlgorithmicMedia",
     "c2pa.dst.compositeWithTrainedAlgorithmicMedia", "ai"),
    (IPTC + "compositeSynthetic", "c2pa.dst.compositeSynthetic", "ai"),
    ("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
     "c2pa.dst.trainedAlgorithmicData", "ai"),
    ("c2pa.trainedAlgorithmicData", "c2pa.dst.trainedAlgorithmicData", "ai"),
    (IPTC + "composite", "c2pa.dst.composite", "review"),
    (IPTC + "virtualRecording", "c2pa.dst.virtualRecording", "review"),
])
def test_source_type_verdicts(value: str, rule: str, verdict: str) -> None:
    f = rules_of(store({"action": "c2pa.edited", "digitalSourceType": value}))
    assert f[rule].verdict == verdict


@pytest.mark.parametrize("term", ["digitalCapture", "algorithmicMedia", "humanEdits",
                                  "digitalCreation", "computationalCapture"])
def test_non_generative_source_types_are_not_findings(term: str) -> None:
    j = judge_store(store({"action": "c2pa.created", "digitalSourceType": IPTC + term}), VERIFIED)
    assert j.findings == []
    assert any("no generative-AI marker" in n for n in j.notes)


def test_training_mining_permissions_are_not_markers() -> None:
    tm = [{"label": "c2pa.training-mining", "data": {"entries": {
              "c2pa.ai_generative_training": {"use": "notAllowed"},
              "c2pa.ai_training": {"use": "allowed"}}}},
          {"label": "cawg.training-mining", "data": {"entries": {
              "cawg.ai_inference": {"use": "notAllowed"}}}}]
    s = store({"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}, extra=tm)
    assert judge_store(s, VERIFIED).findings == []


def test_templates_agent_index_and_metadata_are_walked() -> None:
    data = {"actions": [{"action": "c2pa.opened"}],
            "softwareAgents": [{"name": "Other"}, {"name": "Adobe Firefly", "version": "5"}],
            "templates": [{"action": "*", "digitalSourceType": IPTC + "compositeSynthetic",
                           "softwareAgentIndex": 1}]}
    s = store()
    s["manifests"]["urn:c2pa:a"]["assertions"] = [
        {"label": "c2pa.actions.v2", "data": data},
        {"label": "c2pa.metadata", "data": {"Iptc4xmpExt:DigitalSourceType": {
            "@id": IPTC + "trainedAlgorithmicMedia"}}}]
    f = rules_of(s)
    assert f["c2pa.dst.compositeSynthetic"].location.endswith(
        "/c2pa.actions.v2/templates[0]/digitalSourceType")
    assert f["c2pa.dst.trainedAlgorithmicMedia"].location.endswith(
        "/c2pa.metadata/Iptc4xmpExt:DigitalSourceType")
    firefly = f["c2pa.vendor.adobe.firefly"]
    places = {firefly.location, *firefly.evidence["also_at"]}
    assert {p.split("/c2pa.actions.v2/")[1] for p in places} == {
        "softwareAgents[1]", "templates[0]/softwareAgentIndex"}


def test_spots_carry_their_action() -> None:
    spots = list(walk_assertion({"actions": [
        {"action": "c2pa.created", "softwareAgent": {"name": "Sora"},
         "digitalSourceType": IPTC + "trainedAlgorithmicMedia", "description": "made"}]}))
    assert {(s.kind, s.where) for s in spots} == {
        ("dst", "actions[0]/digitalSourceType"), ("agent", "actions[0]/softwareAgent"),
        ("description", "actions[0]/description")}
    assert all(s.action and s.action["action"] == "c2pa.created" for s in spots)


def test_vendor_without_source_type_and_via_signer() -> None:
    bing = store({"action": "c2pa.created", "softwareAgent": "Bing Image Creator",
                  "description": "AI Generated Image"},
                 claim_generator="Microsoft_Responsible_AI/1.0")
    f = rules_of(bing)
    assert set(f) == {"c2pa.vendor.microsoft.bing-image-creator"}
    assert f["c2pa.vendor.microsoft.bing-image-creator"].verdict == "ai"

    signed = store({"action": "c2pa.converted"})
    signed["manifests"]["urn:c2pa:a"]["signature_info"].update(
        {"issuer": "OpenAI", "common_name": "Truepic Lens CLI in ChatGPT"})
    f = rules_of(signed)
    assert f["c2pa.vendor.openai"].location.endswith("/signature_info/issuer")
    # Non-generative tools and cameras are not vendors of AI output.
    cam = store({"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture",
                 "softwareAgent": "Adobe Photoshop 26.9"}, claim_generator="Leica Camera")
    assert rules_of(cam) == {}


def _chain() -> dict[str, Any]:
    """active → parentOf mid → parentOf root(AI); plus a manifest nothing links to."""
    s = store({"action": "c2pa.opened"})
    active = s["manifests"]["urn:c2pa:a"]
    active["ingredients"] = [{"title": "mid.png", "relationship": "parentOf",
                              "active_manifest": "urn:c2pa:b"}]
    mid = copy.deepcopy(active)
    mid["ingredients"] = [{"title": "gen.png", "relationship": "parentOf",
                           "active_manifest": "urn:c2pa:c"},
                          {"title": "loop", "relationship": "inputTo",
                           "active_manifest": "urn:c2pa:a"}]  # cycles must not loop
    root = copy.deepcopy(active)
    root["ingredients"] = []
    root["assertions"] = [{"label": "c2pa.actions.v2", "data": {"actions": [
        {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]}}]
    s["manifests"].update({"urn:c2pa:b": mid, "urn:c2pa:c": root,
                           "urn:c2pa:z": copy.deepcopy(root)})
    return s


def test_manifest_order_and_paths() -> None:
    order = manifest_order(_chain())
    assert order == [("urn:c2pa:a", "active"),
                     ("urn:c2pa:b", 'active → parentOf "mid.png"'),
                     ("urn:c2pa:c", 'active → parentOf "mid.png" → parentOf "gen.png"'),
                     ("urn:c2pa:z", "not linked from the active manifest")]
    f = judge_store(_chain(), VERIFIED).findings
    assert [x.evidence["manifest"] for x in f] == ["urn:c2pa:c", "urn:c2pa:z"]


def test_validation_wording_per_manifest() -> None:
    s = store({"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"})
    assert validation_text(s, "urn:c2pa:a", VERIFIED) == "valid, untrusted signer"
    assert validation_text(s, "urn:c2pa:a", UNVERIFIED) == "not verified (> verify limit)"
    trusted = store(state="Trusted")
    assert validation_text(trusted, "urn:c2pa:a", VERIFIED) == "trusted"
    bad = store(state="Invalid")
    bad["validation_status"].append({"code": "assertion.dataHash.mismatch",
                                     "url": "self#jumbf=/c2pa/urn:c2pa:a/c2pa.assertions/x"})
    assert validation_text(bad, "urn:c2pa:a", VERIFIED) == "invalid: assertion.dataHash.mismatch"


def test_tier_follows_validation_not_verdict() -> None:
    ai = {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}
    assert rules_of(store(ai))["c2pa.dst.trainedAlgorithmicMedia"].tier == "verified"
    assert rules_of(store(ai), UNVERIFIED)["c2pa.dst.trainedAlgorithmicMedia"].tier == "declared"
    invalid = store(ai, state="Invalid")
    invalid["validation_status"].append({"code": "claimSignature.mismatch",
                                         "url": "self#jumbf=/c2pa/urn:c2pa:a/c2pa.signature"})
    f = rules_of(invalid)
    assert f["c2pa.dst.trainedAlgorithmicMedia"].tier == "declared"
    assert f["c2pa.dst.trainedAlgorithmicMedia"].verdict == "ai"  # still AI
    assert "c2pa.corrupt" not in f  # the AI claim is the stronger statement


def test_unknown_source_type_is_noted_not_judged() -> None:
    j = judge_store(store({"action": "c2pa.created", "digitalSourceType": "urn:x:madeUp"}),
                    VERIFIED)
    assert j.findings == []
    assert any(n.startswith("unknown digitalSourceType 'urn:x:madeUp'") for n in j.notes)


def test_hostile_shapes_do_not_crash() -> None:
    deep: dict[str, Any] = {"digitalSourceType": IPTC + "trainedAlgorithmicMedia"}
    for _ in range(200):
        deep = {"n": [deep]}
    weird = {"active_manifest": 5, "manifests": {"m": {"assertions": [
        None, {"label": 3, "data": deep}, {"data": [1, "x", None]}],
        "ingredients": "nope", "signature_info": "x", "claim_generator_info": [None, 7]}}}
    j = judge_store(weird, VERIFIED)  # nesting past the depth limit is not followed
    assert j.findings == []
    assert judge_store({"manifests": []}, VERIFIED).findings == []
