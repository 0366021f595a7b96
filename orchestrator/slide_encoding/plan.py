"""What a slide or patient encoding run needs before any slide: the encoders' facts, the
patch encoders whose features they read, and one patch size and magnification for all."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from atlaspatch.api.errors import InvalidInput
from atlaspatch.client.slide_encoders import SlideEncoderFacts, slide_encoder_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    encoders: tuple[SlideEncoderFacts, ...]  # each with its patch encoder filled in
    patch_size: int
    target_magnification: float

    @property
    def patch_encoders(self) -> list[str]:
        """The patch encoders whose features the encoders read, each once, in order."""
        names = [facts.patch_encoder for facts in self.encoders if facts.patch_encoder]
        return list(dict.fromkeys(names))


def make_plan(
    names: list[str],
    patch_size: int | None,
    target_magnification: float | None,
    mean_patch_encoder: str | None,
    patient: bool = False,
) -> Plan:
    """The plan for the encoders `names`; a patch size they were not made for is refused,
    a magnification they were not trained at is only warned of (as the reference allows)."""
    kind = "patient" if patient else "slide"
    if not names:
        raise InvalidInput(f"no {kind} encoders named")
    encoders = tuple(
        slide_encoder_facts(name, patient).reading(mean_patch_encoder) for name in names
    )
    if mean_patch_encoder and all(facts.name != "mean" for facts in encoders):
        log.warning("--mean-patch-encoder is only read by the mean encoder: ignored")
    size = _agreed(encoders, "patch_size", patch_size, "--patch-size")
    magnification = _agreed(
        encoders, "magnification", target_magnification, "--target-mag", strict=False
    )
    return Plan(encoders, int(size), float(magnification))


def _agreed(
    encoders: tuple[SlideEncoderFacts, ...],
    field: str,
    asked: float | None,
    option: str,
    strict: bool = True,
) -> float:
    needs = {facts.name: getattr(facts, field) for facts in encoders}
    needs = {name: value for name, value in needs.items() if value is not None}
    values = set(needs.values())
    if len(values) > 1:
        listed = ", ".join(f"{name} {value:g}" for name, value in needs.items())
        raise InvalidInput(
            f"these encoders need different {option[2:]}s ({listed}): run them separately"
        )
    if not values:
        if asked is None:
            raise InvalidInput(
                f"give {option}: `mean` pools features made at any {option[2:]}, so it "
                "cannot choose one (e.g. --patch-size 224 --target-mag 20)"
            )
        return asked
    (needed,) = values
    if asked is None or asked == needed:
        return needed
    listed = ", ".join(needs)
    if strict:
        raise InvalidInput(f"{listed} need(s) {option} {needed:g}, not {asked:g}")
    log.warning("%s were trained at %s %g; running at %g as asked", listed, option, needed, asked)
    return asked
