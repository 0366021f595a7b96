"""What a command asks of every slide: tissue masks only (`detect-tissue`), coordinates
(`segment-and-get-coords`), or coordinates and features (`process`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlaspatch.api.errors import ServiceError
from atlaspatch.client.artifacts import ArtifactScorer
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
    # Why the segmenter or the encoders cannot run here (weights missing, say): slides that
    # need them fail at once with it; finished slides are reused without them.
    segmenter_problem: ServiceError | None = None
    features_problem: ServiceError | None = None
    artifacts: ArtifactScorer | None = None  # scores patches where --artifact-model is given
    # The artifact model's provenance, asked once: it decides reuse and goes into each qc/.
    artifacts_provenance: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        run: RunSettings,
        segmenter: SegmenterClient,
        coords: CoordsSettings | None = None,
        features: FeatureSettings | None = None,
        artifacts: ArtifactScorer | None = None,
    ) -> Job:
        """The job, its models asked what they are without loading them (they load when a
        slide first needs them)."""
        provenance: dict[str, str] = {}
        segmenter_problem = features_problem = None
        try:
            provenance = segmenter.provenance()
        except ServiceError as exc:
            segmenter_problem = exc
        if features is not None:
            try:
                features.encoders.known_facts()
            except ServiceError as exc:
                features_problem = exc
        if coords is None:
            provenance = {}  # masks only: no file records it
        # Said now, unlike the segmenter's problems: a service without the model, weights missing.
        artifacts_provenance = artifacts.provenance() if artifacts is not None else {}
        return cls(
            run,
            segmenter,
            coords,
            features,
            provenance,
            segmenter_problem,
            features_problem,
            artifacts,
            artifacts_provenance,
        )

    def slide_file(self, source: SlideSource) -> SlideFile:
        return SlideFile(self.run.patches_dir, source.stem)

    def expected(self, source: SlideSource) -> Expected:
        """What this job would write for `source`, as an existing file must match it."""
        assert self.coords is not None
        return Expected(
            self.coords,
            self.segmenter_provenance,
            mpp_override(source, self.run.mpp_table),
            self.artifacts_provenance,
        )
