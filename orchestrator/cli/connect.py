"""The segmenter and encoders a command talks to: a service when its URL is given, else the
services' own handlers in this process. Slide and patient encoders run where the patch
encoders do: on the service of --encoder-url, else here."""

from __future__ import annotations

from typing import Any

from atlaspatch.client.artifacts import ArtifactScorer, RemoteArtifacts, local_artifacts
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.encoder import EncoderClient, local_encoders
from atlaspatch.client.remote import RemoteEncoders, RemoteSegmenter
from atlaspatch.client.remote_slides import RemoteSlideEncoders
from atlaspatch.client.segmenter import SegmenterClient, local_segmenter
from atlaspatch.client.slide_encoders import SlideEncoderClient, local_slide_encoders
from atlaspatch.orchestrator.cli.options import split_names, tissue_checkpoint


def connect_segmenter(options: dict[str, Any]) -> SegmenterClient:
    url = options.get("segmenter_url")
    if url:
        return RemoteSegmenter(_endpoint(url, options), options["tissue_model"])
    model = options["tissue_model"]
    return local_segmenter(model, options["device"], tissue_checkpoint(model, options))


def connect_artifacts(options: dict[str, Any]) -> ArtifactScorer:
    """The artifact model of --artifact-model: on the segmenter service of --segmenter-url,
    else here."""
    model, url = options["artifact_model"], options.get("segmenter_url")
    if url:
        return RemoteArtifacts(_endpoint(url, options), model)
    return local_artifacts(model, options["device"], options.get("artifact_checkpoint"))


def connect_encoders(options: dict[str, Any]) -> EncoderClient:
    """The encoders of --feature-extractors, their names checked; in this process each loads
    when a slide first needs it."""
    names = split_names(options["feature_extractors"])
    precision = options["feature_precision"] or ""  # "": the handler's default
    encoders: EncoderClient
    if options["encoder_url"]:
        endpoint = _endpoint(options["encoder_url"], options)
        encoders = RemoteEncoders(endpoint, names, precision, tiles=options["send_tiles"])
    else:
        encoders = local_encoders(
            names,
            options["feature_device"] or options["device"],
            precision,
            options["weights_dir"],
            options["feature_plugins"],
            options["feature_num_workers"],
            options["feature_batch_size"],
        )
    encoders.check()  # fails early: unknown names, a refused token (nothing loads here yet)
    return encoders


def connect_slide_encoders(options: dict[str, Any]) -> SlideEncoderClient:
    if options["encoder_url"]:
        return RemoteSlideEncoders(_endpoint(options["encoder_url"], options))
    return local_slide_encoders(options["device"], options["weights_dir"])


def _endpoint(url: str, options: dict[str, Any]) -> Endpoint:
    return Endpoint.parse(
        url,
        options.get("token"),
        options.get("tls_ca"),
        options.get("tls_client_cert"),
        options.get("tls_client_key"),
    )
