"""Slide and patient encoders on the encoder service: `encode-slide` and `encode-patient`
with --encoder-url write what they write in process (mean pool and MOOZY with random
weights, over real gRPC); the stream of patch features arrives whole however it is cut;
calls the service must not serve are refused before their rows are read."""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import h5py
import numpy as np
import pytest

from atlaspatch.api.errors import InvalidInput, NotFound
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.slide_features import PatchData, SlidesAssembly, request_messages
from atlaspatch.api.v1 import encoder_pb2
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote_slides import RemoteSlideEncoders
from atlaspatch.client.slide_encoders import slide_encoder_facts
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
from atlaspatch.encoder_service.serving.server import encoder_server
from tests.background_server import BackgroundServer
from tests.cli import atlaspatch
from tests.service_helpers import code_of, stub
from tests.slide_encoder_helpers import (
    CPU,
    FEATURES,
    GEOMETRY,
    processed_output,
    write_random_moozy,
)

MEAN = ("--mean-patch-encoder", FEATURES)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("slide-service")
    slides, out = processed_output(root)
    write_random_moozy(root / "weights" / "moozy.pt", seed=2)
    return slides, out, root / "weights"


@pytest.fixture(scope="module")
def service(made):
    """An encoder service holding efficientnet_lite0 and MOOZY, over real gRPC."""
    _, _, weights = made
    with BackgroundServer(
        lambda: encoder_server(
            ServerSettings(refusal_penalty_seconds=0),
            EncoderRegistry(),
            [FEATURES],
            weights_dir=weights,
            slide_encoders=("moozy",),
            max_decoded_bytes=2**20,
        )[0]
    ) as server:
        yield server


def copy_of(out: Path, to: Path) -> Path:
    shutil.copytree(out, to)
    return to


def embeddings(out: Path, group: str = "slide_features") -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(out.rglob("*.h5")):
        with h5py.File(path) as h5:
            if group in h5:
                for name, dataset in h5[group].items():
                    found[f"{path.relative_to(out)}:{name}"] = dataset[...]
            elif "features" in h5 and "coords" not in h5:  # a patient file
                found[str(path.relative_to(out))] = h5["features"][...]
    return found


def test_encode_slide_through_the_service_writes_what_in_process_writes(
    made, service, tmp_path: Path
) -> None:
    slides, out, weights = made
    runs = {}
    for where, extra in (("here", ()), ("service", ("--encoder-url", service.address))):
        target = copy_of(out, tmp_path / where)
        result = atlaspatch(
            "encode-slide", slides, "-o", target, *GEOMETRY, *CPU, *MEAN,
            "--slide-encoders", "mean,moozy", "--weights-dir", weights, *extra,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "2 done" in result.output, result.output
        runs[where] = embeddings(target)
    assert sorted(runs["here"]) == sorted(runs["service"])
    assert len(runs["here"]) == 6  # mean, mean.<patch encoder>, moozy for each of two slides
    for key, vector in runs["here"].items():
        np.testing.assert_allclose(runs["service"][key], vector, rtol=1e-6, atol=1e-7)


def test_encode_patient_through_the_service_writes_what_in_process_writes(
    made, service, tmp_path: Path
) -> None:
    slides, out, weights = made
    csv = tmp_path / "cases.csv"
    csv.write_text(f"case_id,slide_path\np1,{slides / 'a.tiff'}\np1,{slides / 'b.tiff'}\n")
    runs = {}
    for where, extra in (("here", ()), ("service", ("--encoder-url", service.address))):
        target = copy_of(out, tmp_path / where)
        result = atlaspatch(
            "encode-patient", csv, "-o", target, *GEOMETRY, *CPU, *MEAN,
            "--patient-encoders", "mean,moozy", "--weights-dir", weights, *extra,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        runs[where] = embeddings(target / "patient_features")
    assert sorted(runs["here"]) == ["mean/p1.h5", "moozy/p1.h5"]
    for key, vector in runs["here"].items():
        np.testing.assert_allclose(runs["service"][key], vector, rtol=1e-6, atol=1e-7)


def test_a_slide_encoder_the_service_does_not_serve_is_named(service) -> None:
    encoders = RemoteSlideEncoders(Endpoint.parse(service.address))
    with pytest.raises(NotFound, match="titan.*not served here"):
        encoders.load(slide_encoder_facts("titan"))
    info = encoders.load(slide_encoder_facts("moozy"), patient=True)
    assert (info.name, info.embedding_dim, info.precision) == ("moozy", 768, "float32")
    assert len(info.weights_sha256) == 64  # of the random moozy.pt


def slide(rows: int, dim: int, seed: int = 0) -> PatchData:
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, dim)).astype(np.float32)
    xy = rng.integers(0, 10**6, (rows, 2))
    return PatchData(f"slide{seed}", features, xy, 224, 448, 20.0)


def test_the_stream_of_rows_arrives_whole_however_it_is_cut(monkeypatch) -> None:
    monkeypatch.setattr("atlaspatch.api.slide_features.CHUNK_BYTES", 1000)
    sent = [slide(97, 13, seed=1), slide(5, 13, seed=2)]
    asked = encoder_pb2.LoadSlideEncoderRequest(encoder="mean", patient=True)
    messages = list(request_messages(asked, sent))
    assert len(messages) == 1 + 7 + 1  # 68 bytes a row: 14 rows a chunk
    assembly = SlidesAssembly(messages[0].start, patient=True)
    for message in messages[1:]:
        assembly.add(message.rows)
    for got, expected in zip(assembly.slides(), sent, strict=True):
        assert np.array_equal(got.features, expected.features)
        assert np.array_equal(got.xy, expected.xy)
        assert (got.patch_size, got.patch_size_level0) == (224, 448)
    short = SlidesAssembly(messages[0].start, patient=True)
    short.add(messages[1].rows)
    with pytest.raises(InvalidInput, match="ended before all rows"):
        short.slides()
    with pytest.raises(InvalidInput, match="one a call"):
        SlidesAssembly(messages[0].start, patient=False)


def call(service, messages):
    return stub(service.address).EmbedSlides(iter(messages), timeout=30)


def rows_of(rows: encoder_pb2.FeatureRows) -> encoder_pb2.EmbedSlidesRequest:
    return encoder_pb2.EmbedSlidesRequest(rows=rows)


def start(
    rows: int, dim: int, encoder: str = "mean", patch_encoder: str = FEATURES
) -> encoder_pb2.EmbedSlidesRequest:
    asked = encoder_pb2.LoadSlideEncoderRequest(encoder=encoder, patch_encoder=patch_encoder)
    first = encoder_pb2.SlidesStart(encoder=asked)
    first.slides.add(name="s", rows=rows, dim=dim, patch_size=224, patch_size_level0=448)
    return encoder_pb2.EmbedSlidesRequest(start=first)


def test_calls_the_service_must_not_serve_are_refused(service) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    # Over the service's 1 MiB budget: refused on its start message alone.
    assert code_of(lambda: call(service, [start(10**6, 1280)])) == invalid
    # Rows for a slide never announced, or more than announced.
    rows = encoder_pb2.FeatureRows(slide=3, count=1, features=b"\0" * 4, coords=b"\0" * 16)
    assert code_of(lambda: call(service, [start(1, 1), rows_of(rows)])) == invalid
    too_many = encoder_pb2.FeatureRows(slide=0, count=2, features=b"\0" * 8, coords=b"\0" * 32)
    assert code_of(lambda: call(service, [start(1, 1), rows_of(too_many)])) == invalid
    # No start; a fixed encoder asked to read other features; one not served.
    assert code_of(lambda: call(service, [])) == invalid
    assert code_of(lambda: call(service, [start(1, 384, "moozy", "resnet18")])) == invalid
    assert code_of(lambda: call(service, [start(1, 768, "titan", "")])) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_a_call_of_the_mean_over_the_wire_is_the_mean(service) -> None:
    data = slide(40, 8, seed=3)
    asked = encoder_pb2.LoadSlideEncoderRequest(encoder="mean", patch_encoder=FEATURES)
    response = stub(service.address).EmbedSlides(request_messages(asked, [data]), timeout=30)
    vector = np.frombuffer(response.values, "<f4")
    np.testing.assert_allclose(vector, data.features.astype(np.float64).mean(0), rtol=1e-6)
    assert response.encoder.name == "mean" and response.encoder.patch_encoder == FEATURES
    assert response.encoder.precision == "float64"


def test_the_policy_names_what_a_client_may_load() -> None:
    policy = LoadPolicy.serving([FEATURES]).also(["moozy"])
    policy.check("moozy")
    with pytest.raises(LookupError, match="not served here"):
        policy.check("titan")
    assert LoadPolicy().also(["moozy"]).loadable is None  # in process: anything
