"""A registry change that alters an encoder's features must raise its features_version."""

from __future__ import annotations

import json

from tests.features_versions import TABLE, current


def test_changed_features_come_with_a_raised_features_version() -> None:
    recorded = json.loads(TABLE.read_text())
    for name, now in current().items():
        before = recorded.get(name)
        if before is None or before == now:
            continue
        assert now["features_version"] > before["features_version"], (
            f"{name}: what decides its features changed; raise its features_version "
            "(then run python -m tests.features_versions)"
        )
        raise AssertionError(f"{name}: version raised; run python -m tests.features_versions")


def test_the_fingerprint_sees_a_changed_crop() -> None:
    import dataclasses

    from atlaspatch.encoder_service.catalog import builtin_specs
    from tests.features_versions import fingerprint

    spec = next(s for s in builtin_specs() if s.name == "resnet50")
    assert fingerprint(spec) != fingerprint(dataclasses.replace(spec, resize_to=232))
    assert fingerprint(spec) == fingerprint(dataclasses.replace(spec, license="other"))
