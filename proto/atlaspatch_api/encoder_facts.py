"""What computed a feature set: one typed record, made by an encoder where it is loaded (in
this process, the service or Triton), carried over the wire as JSON (EncoderInfo's
description_json), and written as the HDF5 dataset's attributes. What is not known where it
was made (a plugin's architecture, say) is None and written nowhere."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from atlaspatch.api.errors import InvalidInput


@dataclass(frozen=True)
class EncoderFacts:
    encoder: str
    embedding_dim: int
    precision: str = ""
    weights_sha256: str = ""  # "": not known (a plugin's own weights)
    weights_source: str | None = None  # where its weights come from (hf:..., wheel:...)
    weights_origin: str | None = None  # where they were found here (local, hf-cache, hub)
    architecture: str | None = None
    features_version: int | None = None  # raised when the same weights give other features
    # Resizing, statistics and pooling; a plugin's says what its own preprocess is.
    preprocessing: dict[str, Any] | str | None = None
    served_by: str | None = None  # a model server behind the service (Triton)

    @property
    def input_size(self) -> int:
        """The side patches are resized to (0: not known)."""
        if isinstance(self.preprocessing, dict):
            return int(self.preprocessing.get("input_size", 0))
        return 0

    def as_dict(self) -> dict[str, Any]:
        """The known facts, in field order."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    def attributes(self) -> dict[str, str | int | float]:
        """As HDF5 attributes: text and numbers as they are, anything else as JSON."""
        return {
            key: value if isinstance(value, (str, int, float)) else json.dumps(value)
            for key, value in self.as_dict().items()
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EncoderFacts:
        """Facts a service sent; fields this client does not know are left out (a newer
        service may say more)."""
        try:
            given = json.loads(text)
            known = {field.name for field in dataclasses.fields(cls)}
            return cls(**{key: value for key, value in given.items() if key in known})
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"encoder facts that cannot be read: {exc}") from exc
