"""What decides each built-in encoder's features, fingerprinted, with the features_version it
had then: tests/features_versions.json. A change to any of these facts without a raised
features_version fails tests/test_features_versions.py, so rows of old and new features are
never mixed in one file.

    python -m tests.features_versions   # rewrite the table after raising a version
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from atlaspatch.encoder_service.catalog import builtin_specs
from atlaspatch.encoder_service.catalog.spec import EncoderSpec

TABLE = Path(__file__).with_name("features_versions.json")
# Everything but the name, licence, weights location and other descriptive fields (the
# weights themselves are told apart by their sha256, stored beside the features).
NOT_FEATURES = {"name", "license", "family", "needs", "precisions", "features_version", "weights"}


def fingerprint(spec: EncoderSpec) -> str:
    facts = {
        field.name: getattr(spec, field.name)
        for field in dataclasses.fields(spec)
        if field.name not in NOT_FEATURES
    }
    text = json.dumps(facts, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    """A builder's parameters as their kind and fields; anything else as its repr."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"kind": type(value).__name__, **dataclasses.asdict(value)}
    return repr(value)


def current() -> dict[str, dict]:
    return {
        spec.name: {"features_version": spec.features_version, "fingerprint": fingerprint(spec)}
        for spec in builtin_specs()
    }


if __name__ == "__main__":
    TABLE.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {TABLE}")
