"""The facts of every slide and patient encoder: what it outputs, which patch features it
reads (encoder and patch size), and where its weights come from. Nothing heavy is imported
here: the command line lists the names from this module."""

from __future__ import annotations

from dataclasses import dataclass, replace

from atlaspatch.api.errors import InvalidInput, NotFound

MEAN = "mean"


@dataclass(frozen=True)
class SlideEncoderFacts:
    name: str
    # None: the dimension of the patch features it reads (the mean pool).
    embedding_dim: int | None
    # The patch encoder whose features it reads; None: chosen by the user (the mean pool).
    patch_encoder: str | None
    # The patch size (at the target magnification) it was trained on; None: any.
    patch_size: int | None
    magnification: float | None = None  # that of its training patches; None: any
    repo: str = ""  # Hugging Face repository of the weights ("": needs none)
    files: tuple[str, ...] = ()  # the files of `repo` it needs
    gated: bool = False
    python_package: str = ""  # a package it is built from, when not in the default install
    patient: bool = False  # also encodes a patient (a case of several slides)

    def reading(self, patch_encoder: str | None) -> SlideEncoderFacts:
        """These facts with the patch encoder filled in (the mean pool's is the user's)."""
        if self.patch_encoder is not None:
            return self
        if not patch_encoder:
            raise InvalidInput(
                f"slide encoder {self.name!r} averages the features of a patch encoder of "
                "your choice: name it with --mean-patch-encoder (e.g. efficientnet_lite0)"
            )
        return replace(self, patch_encoder=patch_encoder)


_ENCODERS = (
    SlideEncoderFacts(MEAN, None, None, None, patient=True),
    SlideEncoderFacts(
        "moozy",
        768,
        "lunit_vit_small_patch8_dino",
        224,
        20.0,
        repo="AtlasAnalyticsLab/MOOZY",
        files=("moozy.pt",),
        python_package="moozy",
        patient=True,
    ),
    SlideEncoderFacts(
        "titan",
        768,
        "conch_v15",
        512,
        20.0,
        repo="MahmoodLab/TITAN",
        files=("config.json", "model.safetensors"),
        gated=True,
    ),
    SlideEncoderFacts(
        "prism",
        1280,
        "virchow_v1",
        224,
        20.0,
        repo="paige-ai/Prism",
        files=("config.json", "model.safetensors"),
        gated=True,
    ),
)
SLIDE_ENCODERS = {facts.name: facts for facts in _ENCODERS}
PATIENT_ENCODERS = {facts.name: facts for facts in _ENCODERS if facts.patient}


def slide_encoder_facts(name: str, patient: bool = False) -> SlideEncoderFacts:
    known = PATIENT_ENCODERS if patient else SLIDE_ENCODERS
    key = name.strip().lower()
    if key not in known:
        kind = "patient" if patient else "slide"
        raise NotFound(f"unknown {kind} encoder {name!r}; known: {', '.join(sorted(known))}")
    return known[key]
