"""atlaspatch from Python, for notebooks and pipelines: the steps the CLI runs, one call
each, with the same code (a slide opened and its scale resolved, segmented, its patches
planned, embedded in process or on a service), and a dataset over the HDF5 for training.

    from atlaspatch.orchestrator import python_api as ap

    with ap.open_slide("slide.svs") as slide:
        mask = slide.segment(ap.segmenter("otsu"))
        patches = slide.coordinates(mask, patch_size=256, target_mag=20)
        features = slide.embed(patches, ap.patch_encoders(["efficientnet_lite0"]))

    dataset = ap.PatchDataset("out/patches/slide.h5", features=["efficientnet_lite0"])

`segmenter(..., url="host:port")` and `patch_encoders(..., url="host:port")` use services
instead, with nothing but the client installed.
"""

from atlaspatch.orchestrator.python_api.dataset import PatchDataset
from atlaspatch.orchestrator.python_api.models import patch_encoders, segmenter
from atlaspatch.orchestrator.python_api.slide import Patches, Slide, open_slide

__all__ = ["PatchDataset", "Patches", "Slide", "open_slide", "patch_encoders", "segmenter"]
