"""What a command asks of every slide: tissue masks only (`detect-tissue`), coordinates
(`segment-and-get-coords`), or coordinates and features (`process`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlaspatch.client.segmenter import SegmenterClient
from atlaspatch.orchestrator.output.existing import Expected
from atlaspatch.orchestrator.output.slide_file import SlideFile
from atlaspatch.orchestrator.settings import CoordsSettings, FeatureSettings, RunSettings
from atlaspatch.orchestrator.slides.magnification import mpp_override
from atlaspatch.orchestrator.slides.slide import SlideSource


@dataclass(frozen=True)
class Job:
    run: RunSettings
    segmenter: SegmenterClient
    coords: CoordsSettings | None = None  # None: masks only
    features: FeatureSettings | None = None  # None: no features
    # The segmenter's provenance, asked once: it goes into every file and decides reuse.
    segmenter_provenance: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        run: RunSettings,
        segmenter: SegmenterClient,
        coords: CoordsSettings | None = None,
        features: FeatureSettings | None = None,
    ) -> Job:
        provenance = segmenter.provenance() if coords is not None else {}
        return cls(run, segmenter, coords, features, provenance)

    def slide_file(self, source: SlideSource) -> SlideFile:
        return SlideFile(self.run.patches_dir, source.stem)

    def expected(self, source: SlideSource) -> Expected:
        """What this job would write for `source`, as an existing file must match it."""
        assert self.coords is not None
        return Expected(
            self.coords, self.segmenter_provenance, mpp_override(source, self.run.mpp_table)
        )
