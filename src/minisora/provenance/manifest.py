"""The C2PA manifest: what made a file, signed, embedded in it (MP4, PNG, GIF) with c2pa-python.

Assertions: a `c2pa.created` action with the IPTC digital source type (trainedAlgorithmicMedia
for a model's output, algorithmicMedia for the world renderer, which no trained model drives)
and `org.minisora.generation` with the model name and version, the refined prompt, seed,
sampling steps and the watermark's generation id. No network: no timestamp authority, no
remote manifest, no OCSP; thumbnails are off (they would outweigh a 64x64 clip).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from minisora.provenance.certs import SigningIdentity, load_identity

GENERATION_LABEL = "org.minisora.generation"
SOURCE_TYPES = ("trainedAlgorithmicMedia", "algorithmicMedia")
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MIME = {"mp4": "video/mp4", "png": "image/png", "gif": "image/gif"}


@dataclass(frozen=True)
class ProvenanceInfo:
    """What the manifest says about how an output was made."""

    model_name: str
    model_version: str
    prompt: str  # the refined prompt the model saw
    seed: int
    steps: int | None = None  # sampling steps; None where nothing was sampled (world renders)
    source_type: str = "trainedAlgorithmicMedia"  # or "algorithmicMedia" (world renderer)
    parameters: dict[str, Any] = field(default_factory=dict)  # more settings, JSON-able

    def __post_init__(self) -> None:
        if self.source_type not in SOURCE_TYPES:
            raise ValueError(f"source_type {self.source_type!r}: choose from {', '.join(SOURCE_TYPES)}")
        if not self.model_name:
            raise ValueError("model_name is empty: name the model (or 'minisora-world' for renders)")
        json.dumps(self.parameters)  # fail here, not at signing time, if it is not JSON-able


@dataclass
class ManifestReport:
    state: str  # "valid", "invalid" (tampered or broken) or "absent"
    trusted: bool  # signed by this machine's minisora CA
    generation: dict[str, Any] | None  # the org.minisora.generation assertion
    source_type: str | None
    problems: list[str]  # validation failure codes, or why reading failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_definition(info: ProvenanceInfo, title: str, generation_id: int) -> dict[str, Any]:
    from minisora import __version__

    generation = {
        "model": {"name": info.model_name, "version": info.model_version},
        "prompt": info.prompt,
        "seed": info.seed,
        "steps": info.steps,
        "generation_id": generation_id,
        "parameters": info.parameters,
    }
    created = {
        "action": "c2pa.created",
        "digitalSourceType": IPTC + info.source_type,
        "softwareAgent": {"name": "minisora", "version": __version__},
    }
    return {
        "claim_generator_info": [{"name": "minisora", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [created]}},
            {"label": GENERATION_LABEL, "data": generation},
        ],
    }


def c2pa_settings(identity: SigningIdentity):
    import c2pa

    return c2pa.Settings.from_dict({
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        "trust": {"trust_anchors": identity.ca_pem.decode()},
        "builder": {"thumbnail": {"enabled": False}},
    })


def sign_file(source: Path, dest: Path, fmt: str, definition: dict[str, Any],
              identity: SigningIdentity | None = None) -> None:
    """Copy `source` to `dest` with the signed manifest embedded (dest must not be source)."""
    import c2pa

    identity = identity or load_identity()
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
    )
    builder = c2pa.Builder(definition, context=c2pa.Context(c2pa_settings(identity)))
    with open(source, "rb") as src, open(dest, "w+b") as dst:
        builder.sign(signer, MIME[fmt], src, dst)


def read_manifest(path: str | Path, identity: SigningIdentity | None = None) -> ManifestReport:
    """Validate the manifest embedded in `path` against this machine's CA; never raises on bad
    files (an unreadable manifest is reported as invalid)."""
    import c2pa

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    identity = identity or load_identity()
    try:
        with open(path, "rb") as handle:
            reader = c2pa.Reader(MIME.get(fmt, fmt), handle, context=c2pa.Context(c2pa_settings(identity)))
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return ManifestReport("absent", False, None, None, [])
        if "NotSupported" in type(exc).__name__:  # a format that cannot carry a manifest
            return ManifestReport("absent", False, None, None, [f"C2PA does not support .{fmt} files"])
        return ManifestReport("invalid", False, None, None, [f"{type(exc).__name__.lstrip('_')}: {exc}"])
    failures = [f.get("code", "?") for f in results.get("activeManifest", {}).get("failure", [])]
    tamper = [code for code in failures if code != "signingCredential.untrusted"]
    return ManifestReport(
        state="invalid" if state == "Invalid" or tamper else "valid",
        trusted=state == "Trusted",
        generation=_assertion(manifest, GENERATION_LABEL),
        source_type=_source_type(manifest),
        problems=failures,
    )


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any] | None:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == label:
            return assertion.get("data")
    return None


def _source_type(manifest: dict[str, Any]) -> str | None:
    actions = _assertion(manifest, "c2pa.actions.v2") or _assertion(manifest, "c2pa.actions") or {}
    for action in actions.get("actions", []):
        if action.get("action") == "c2pa.created" and action.get("digitalSourceType"):
            return str(action["digitalSourceType"]).rsplit("/", 1)[-1]
    return None
