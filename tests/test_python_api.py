"""The Python API runs the CLI's steps: on the synthetic slide, open → segment → coordinates
→ embed give the coords, tissue fractions and features `process` writes (in process and
through a service), and the dataset over that HDF5 gives its rows, the patches read from
the slide with OpenSlide directly, through a DataLoader with workers."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import openslide
import pytest
import torch

from atlaspatch.orchestrator import python_api as ap
from tests.cli import process_run
from tests.output_helpers import slide_h5

ENCODER = "efficientnet_lite0"


@pytest.fixture(scope="module")
def processed(synthetic_slide, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("python-api")
    result = process_run(synthetic_slide.path, out, "--feature-extractors", ENCODER)
    assert result.exit_code == 0, result.output
    return slide_h5(out)


def api_run(slide_path: Path, url: str | None = None) -> tuple[ap.Patches, dict]:
    with ap.open_slide(slide_path) as slide:
        assert slide.magnification == 40
        mask = slide.segment(ap.segmenter("otsu"))
        assert mask.shape == slide.thumbnail.shape[:2]
        patches = slide.coordinates(mask, patch_size=256, target_mag=20)
        features = slide.embed(patches, ap.patch_encoders([ENCODER], url=url), batch_size=8)
    return patches, features


def test_the_steps_write_what_process_writes(synthetic_slide, processed: Path) -> None:
    patches, features = api_run(synthetic_slide.path)
    with h5py.File(processed) as h5:
        assert np.array_equal(patches.rows(), h5["coords"][...])
        assert np.array_equal(patches.tissue_fraction, h5["tissue_fraction"][...])
        np.testing.assert_allclose(features[ENCODER], h5[f"features/{ENCODER}"][...], atol=1e-5)


def test_an_encoder_service_gives_the_same_features(
    synthetic_slide, processed: Path, encoder_service
) -> None:
    _, features = api_run(synthetic_slide.path, url=encoder_service.address)
    with h5py.File(processed) as h5:
        expected = h5[f"features/{ENCODER}"][...]
    cosine = (features[ENCODER] * expected).sum(1) / (
        np.linalg.norm(features[ENCODER], axis=1) * np.linalg.norm(expected, axis=1)
    )
    assert cosine.min() >= 0.9999


def test_the_dataset_gives_the_files_rows_and_the_slides_patches(
    synthetic_slide, processed: Path
) -> None:
    dataset = ap.PatchDataset(processed, features=[ENCODER])
    assert isinstance(dataset, torch.utils.data.Dataset)
    with h5py.File(processed) as h5:
        coords, fraction = h5["coords"][...], h5["tissue_fraction"][...]
        matrix = h5[f"features/{ENCODER}"][...]
        patch_size = int(h5.attrs["patch_size"])
    assert len(dataset) == len(coords)
    with openslide.OpenSlide(str(synthetic_slide.path)) as reference:
        for index in (0, len(coords) // 2, -1):
            x, y, read_w, read_h, level = (int(v) for v in coords[index])
            region = np.asarray(reference.read_region((x, y), level, (read_w, read_h)))[..., :3]
            expected = cv2.resize(region, (patch_size, patch_size), interpolation=cv2.INTER_LINEAR)
            item = dataset[index]
            assert np.array_equal(item["image"], expected)
            assert np.array_equal(item["coords"], coords[index, :2])
            assert item["tissue_fraction"] == fraction[index]
            assert np.array_equal(item["features"][ENCODER], matrix[index])

    loader = torch.utils.data.DataLoader(dataset, batch_size=16, num_workers=2)
    batches = list(loader)
    assert sum(len(batch["coords"]) for batch in batches) == len(coords)
    assert batches[0]["image"].shape == (16, patch_size, patch_size, 3)
    stacked = torch.cat([batch["features"][ENCODER] for batch in batches]).numpy()
    assert np.array_equal(stacked, matrix)


def test_slides_stored_relative_to_a_root_are_found_under_it(
    synthetic_slide, processed: Path, tmp_path: Path
) -> None:
    copy = tmp_path / processed.name
    copy.write_bytes(processed.read_bytes())
    with h5py.File(copy, "r+") as h5:  # as a run with --wsi-path-root stores it
        h5.attrs["wsi_path"] = synthetic_slide.path.name
    with pytest.raises(ValueError, match="slide_root"):
        ap.PatchDataset(copy)
    assert len(ap.PatchDataset(copy, images=False)) > 0
    found = ap.PatchDataset(copy, slide_root=synthetic_slide.path.parent)
    assert np.array_equal(found[0]["image"], ap.PatchDataset(processed)[0]["image"])
