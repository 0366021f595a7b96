"""numpy arrays <-> atlaspatch.v1 messages, checked on the way in. Shared by clients and
servers so both ends agree byte for byte.

Each read of a protobuf bytes field copies it (megabytes for a batch of patches): read once."""

from __future__ import annotations

import numpy as np

from atlaspatch_api.errors import InvalidInput
from atlaspatch_api.v1 import encoder_pb2, segmenter_pb2


def image_to_proto(image: np.ndarray) -> segmenter_pb2.RgbImage:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInput(f"an RGB image must be (h, w, 3), not {image.shape}")
    return segmenter_pb2.RgbImage(
        height=image.shape[0], width=image.shape[1], pixels=image.tobytes()
    )


def image_from_proto(message: segmenter_pb2.RgbImage) -> np.ndarray:
    pixels = message.pixels
    expected = message.height * message.width * 3
    if message.height == 0 or message.width == 0 or len(pixels) != expected:
        raise InvalidInput(
            f"image {message.height}x{message.width} needs {expected} bytes, got {len(pixels)}"
        )
    return np.frombuffer(pixels, np.uint8).reshape(message.height, message.width, 3)


def mask_to_proto(mask: np.ndarray) -> segmenter_pb2.Mask:
    bits = np.packbits(np.asarray(mask, dtype=bool).ravel())
    return segmenter_pb2.Mask(height=mask.shape[0], width=mask.shape[1], packed_bits=bits.tobytes())


def mask_from_proto(message: segmenter_pb2.Mask) -> np.ndarray:
    count, packed = message.height * message.width, message.packed_bits
    if len(packed) != (count + 7) // 8:
        raise InvalidInput(f"mask {message.height}x{message.width} has {len(packed)} bytes")
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=count)
    return bits.reshape(message.height, message.width).astype(bool)


def patches_to_proto(
    patches: np.ndarray, into: encoder_pb2.PatchBatch | None = None
) -> encoder_pb2.PatchBatch:
    """The batch as a message, or written `into` one (a field of a request: filling it in
    place spares a copy of the pixels)."""
    patches = np.ascontiguousarray(patches, dtype=np.uint8)
    if patches.ndim != 4 or patches.shape[3] != 3:
        raise InvalidInput(f"patches must be (n, h, w, 3) uint8, not {patches.shape}")
    message = encoder_pb2.PatchBatch() if into is None else into
    message.count, message.height, message.width = patches.shape[:3]
    message.pixels = patches.tobytes()
    return message


def patches_from_proto(message: encoder_pb2.PatchBatch) -> np.ndarray:
    """(count, height, width, 3) uint8, read-only (it is the message's bytes)."""
    shape = (message.count, message.height, message.width, 3)
    if 0 in shape:
        raise InvalidInput("an empty patch batch")
    pixels = message.pixels
    expected = shape[0] * shape[1] * shape[2] * 3
    if len(pixels) != expected:
        raise InvalidInput(
            f"{shape[0]} patches of {shape[1]}x{shape[2]}x3 need {expected} bytes, "
            f"got {len(pixels)}"
        )
    return np.frombuffer(pixels, np.uint8).reshape(shape)


def embedding_to_proto(name: str, matrix: np.ndarray) -> encoder_pb2.Embedding:
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    return encoder_pb2.Embedding(
        encoder=name, rows=matrix.shape[0], dim=matrix.shape[1], values=matrix.tobytes()
    )


def embedding_from_proto(message: encoder_pb2.Embedding) -> np.ndarray:
    values, shape = message.values, (message.rows, message.dim)
    if len(values) != shape[0] * shape[1] * 4:
        raise InvalidInput(
            f"embedding {message.encoder}: {len(values)} bytes for {shape[0]}x{shape[1]}"
        )
    return np.frombuffer(values, "<f4").reshape(shape).astype(np.float32)
