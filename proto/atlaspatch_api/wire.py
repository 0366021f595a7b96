"""numpy arrays <-> atlaspatch.v1 messages, checked on the way in. Shared by clients and
servers so both ends agree byte for byte."""

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
    expected = message.height * message.width * 3
    if message.height == 0 or message.width == 0 or len(message.pixels) != expected:
        raise InvalidInput(
            f"image {message.height}x{message.width} needs {expected} bytes, "
            f"got {len(message.pixels)}"
        )
    return np.frombuffer(message.pixels, np.uint8).reshape(message.height, message.width, 3)


def mask_to_proto(mask: np.ndarray) -> segmenter_pb2.Mask:
    bits = np.packbits(np.asarray(mask, dtype=bool).ravel())
    return segmenter_pb2.Mask(height=mask.shape[0], width=mask.shape[1], packed_bits=bits.tobytes())


def mask_from_proto(message: segmenter_pb2.Mask) -> np.ndarray:
    count = message.height * message.width
    if len(message.packed_bits) != (count + 7) // 8:
        raise InvalidInput(
            f"mask {message.height}x{message.width} has {len(message.packed_bits)} bytes"
        )
    bits = np.unpackbits(np.frombuffer(message.packed_bits, np.uint8), count=count)
    return bits.reshape(message.height, message.width).astype(bool)


def patches_to_proto(patches: np.ndarray) -> encoder_pb2.PatchBatch:
    patches = np.ascontiguousarray(patches, dtype=np.uint8)
    if patches.ndim != 4 or patches.shape[3] != 3:
        raise InvalidInput(f"patches must be (n, h, w, 3) uint8, not {patches.shape}")
    n, h, w, _ = patches.shape
    return encoder_pb2.PatchBatch(count=n, height=h, width=w, pixels=patches.tobytes())


def patches_from_proto(message: encoder_pb2.PatchBatch, max_count: int | None = None) -> np.ndarray:
    expected = message.count * message.height * message.width * 3
    if message.count == 0 or message.height == 0 or message.width == 0:
        raise InvalidInput("an empty patch batch")
    if max_count is not None and message.count > max_count:
        raise InvalidInput(f"{message.count} patches in one request; at most {max_count}")
    if len(message.pixels) != expected:
        raise InvalidInput(
            f"{message.count} patches of {message.height}x{message.width}x3 need {expected} bytes, "
            f"got {len(message.pixels)}"
        )
    shape = (message.count, message.height, message.width, 3)
    return np.frombuffer(message.pixels, np.uint8).reshape(shape)


def embedding_to_proto(name: str, matrix: np.ndarray) -> encoder_pb2.Embedding:
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    return encoder_pb2.Embedding(
        encoder=name, rows=matrix.shape[0], dim=matrix.shape[1], values=matrix.tobytes()
    )


def embedding_from_proto(message: encoder_pb2.Embedding) -> np.ndarray:
    if len(message.values) != message.rows * message.dim * 4:
        raise InvalidInput(
            f"embedding {message.encoder}: {len(message.values)} bytes "
            f"for {message.rows}x{message.dim}"
        )
    return (
        np.frombuffer(message.values, "<f4").reshape(message.rows, message.dim).astype(np.float32)
    )
