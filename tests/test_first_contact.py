"""Mistakes in a service's address fail at once, saying what they most likely are: nothing
listening (a wrong port), grpcs:// against a service without TLS, another service at the
address; only a service that has answered before is waited for (the resilience tests cover
that wait)."""

from __future__ import annotations

import logging

import pytest

from atlaspatch.api.errors import ServiceError, Unavailable
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.client import retry
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote import RemoteEncoders
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.cli import COMMON, atlaspatch
from tests.service_helpers import free_port

LITE = ["efficientnet_lite0"]


def retries_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum("retrying" in record.getMessage() for record in caplog.records)


def test_nothing_listening_fails_at_once_and_says_so(caplog) -> None:
    caplog.set_level(logging.INFO, logger=retry.__name__)
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match="nothing listens at that address"):
        RemoteEncoders(Endpoint.parse(address), LITE).describe()
    # The backoff doubles from 0.2 s: within the first-contact wait, a few tries at most
    # (a service that answered before is tried for two minutes).
    assert retries_logged(caplog) <= 4


def test_tls_asked_of_a_service_without_it_is_named(encoder_service) -> None:
    address = f"grpcs://{encoder_service.address}"
    with pytest.raises(Unavailable, match="TLS does not match"):
        RemoteEncoders(Endpoint.parse(address), LITE).describe()


def test_another_service_at_the_address_is_named(tmp_path, synthetic_slide) -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter:
        with pytest.raises(ServiceError, match="another service's address"):
            RemoteEncoders(Endpoint.parse(segmenter.address), LITE).describe()
        result = atlaspatch(
            "process", synthetic_slide.path, "-o", tmp_path, *COMMON,
            "--feature-extractors", "efficientnet_lite0", "--encoder-url", segmenter.address,
        )  # fmt: skip
    assert result.exit_code != 0
    assert "UNIMPLEMENTED" in result.output and "another service's address" in result.output


def test_a_service_that_answered_is_waited_for(encoder_service) -> None:
    client = RemoteEncoders(Endpoint.parse(encoder_service.address), LITE)
    client.describe()
    assert encoder_service.address in retry._answered


def test_a_hub_that_does_not_answer_is_asked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from atlaspatch.api.hosting import model_files

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setattr(model_files, "_hub_reachable", {})

    def never(*args, **kwargs):
        raise AssertionError("a download was tried")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", never)
    for repo in ("a/one", "b/two"):
        found, why = model_files.download(repo, ("model.safetensors",))
        assert found is None and "does not answer from here" in why
        assert "HF_HUB_OFFLINE=1" in why
    assert len(model_files._hub_reachable) == 1


def test_a_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import os

    from atlaspatch.api.hosting import model_files

    read = []
    monkeypatch.setattr(model_files, "_digests", {})
    digest = model_files._digest
    monkeypatch.setattr(model_files, "_digest", lambda path: read.append(path) or digest(path))
    weights = tmp_path / "model.pth"
    weights.write_bytes(b"one")
    first = model_files.file_sha256(weights)
    assert model_files.file_sha256(weights) == first == hashlib.sha256(b"one").hexdigest()
    assert len(read) == 1
    weights.write_bytes(b"two!")
    os.utime(weights, ns=(1, 1))
    assert model_files.file_sha256(weights) == hashlib.sha256(b"two!").hexdigest()
    assert len(read) == 2
