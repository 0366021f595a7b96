"""The segmenter and patch encoders of the Python API: in this process, or on services, by
the same connections the CLI makes (`--segmenter-url`, `--encoder-url`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from atlaspatch.client.encoder import EncoderClient
from atlaspatch.client.segmenter import SegmenterClient
from atlaspatch.orchestrator.cli.connect import connect_encoders, connect_segmenter


def segmenter(
    model: str = "otsu",
    url: str | None = None,
    device: str = "cpu",
    sam2_checkpoint: Path | None = None,
    grandqc_checkpoint: Path | None = None,
    token: str | None = None,
    tls_ca: Path | None = None,
) -> SegmenterClient:
    """The tissue segmenter `model` ("otsu", "sam2" or "grandqc"), here on `device` or on the
    segmenter service at `url` (host:port, grpc://, grpcs://)."""
    return connect_segmenter(
        {
            "segmenter_url": url,
            "tissue_model": model,
            "device": device,
            "sam2_checkpoint": sam2_checkpoint,
            "grandqc_checkpoint": grandqc_checkpoint,
            "token": token,
            "tls_ca": tls_ca,
        }
    )


def patch_encoders(
    names: Sequence[str],
    url: str | None = None,
    device: str = "cpu",
    precision: str = "",
    weights_dir: Path | None = None,
    batch_size: int = 32,
    token: str | None = None,
    tls_ca: Path | None = None,
) -> EncoderClient:
    """The patch encoders `names`, loaded here on `device` or on the encoder service at
    `url`; unknown names and missing weights fail here, before any slide."""
    return connect_encoders(
        {
            "feature_extractors": ",".join(names),
            "feature_precision": precision,
            "encoder_url": url,
            "send_tiles": True,
            "feature_device": None,
            "device": device,
            "weights_dir": weights_dir,
            "feature_plugins": (),
            "feature_num_workers": 1,
            "feature_batch_size": batch_size,
            "token": token,
            "tls_ca": tls_ca,
        }
    )
