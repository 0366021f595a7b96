"""`atlaspatch encode-slide` on a real `process` output: the mean pool against numpy, MOOZY
(random weights) against the moozy package's own encoding, the reference's layout, reuse,
patch features computed where missing, means over several patch encoders kept side by side,
and per-slide failures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli import atlaspatch
from tests.output_helpers import leftovers
from tests.slide_encoder_helpers import (
    CPU,
    FEATURES,
    GEOMETRY,
    MOOZY_PATCH_ENCODER,
    add_feature_set,
    moozy_package_embedding,
    processed_output,
    write_random_moozy,
    write_slides,
)

# The attributes AtlasPatch 1.1.0 gives slide_features/<encoder>, and nothing else.
REFERENCE_ATTRS = {
    "encoder_name",
    "source_patch_encoder",
    "num_patches",
    "patch_size",
    "patch_size_level0",
    "target_magnification",
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(slides, `process` output, weights folder with a random moozy.pt)."""
    root = tmp_path_factory.mktemp("encode-slide")
    slides, out = processed_output(root)
    write_random_moozy(root / "weights" / "moozy.pt")
    return slides, out, root / "weights"


@pytest.fixture
def work(made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A copy of the slides and output of `made` this test may change, and an empty HF
    cache (nothing downloads: HF_HUB_OFFLINE is set for every test)."""
    slides, out, weights = made
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    shutil.copytree(slides, tmp_path / "slides")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "slides", tmp_path / "out", weights


def encode_slide(slides: Path, out: Path, *extra: str | Path):
    return atlaspatch("encode-slide", slides, "-o", out, *GEOMETRY, *CPU, *extra)


def mean_of(out: Path, stem: str, encoder: str = FEATURES) -> np.ndarray:
    with h5py.File(out / "patches" / f"{stem}.h5") as h5:
        return h5[f"features/{encoder}"][...].astype(np.float64).mean(axis=0)


def test_mean_pool_is_the_mean_of_the_patch_features(work) -> None:
    slides, out, _ = work
    with h5py.File(out / "patches" / "a.h5") as h5:
        before = {name: h5[f"features/{name}"][...] for name in h5["features"]}
        coords, attrs = h5["coords"][...], dict(h5.attrs)
    result = encode_slide(slides, out, "--slide-encoders", "mean", "--mean-patch-encoder", FEATURES)
    assert result.exit_code == 0, result.output
    assert "2 done, 0 skipped, 0 failed of 2 slides" in result.output
    for stem in ("a", "b"):
        with h5py.File(out / "patches" / f"{stem}.h5") as h5:
            dataset = h5["slide_features/mean"]
            assert dataset.dtype == np.float32 and dataset.shape == (1280,)
            np.testing.assert_allclose(dataset[...], mean_of(out, stem), rtol=1e-5, atol=1e-6)
            assert set(dataset.attrs) == REFERENCE_ATTRS
            assert dataset.attrs["encoder_name"] == "mean"
            assert dataset.attrs["source_patch_encoder"] == FEATURES
            assert dataset.attrs["num_patches"] == len(h5["coords"])
            for name in ("patch_size", "patch_size_level0", "target_magnification"):
                assert dataset.attrs[name] == h5.attrs[name]
    with h5py.File(out / "patches" / "a.h5") as h5:  # the rest of the file is as it was
        assert np.array_equal(h5["coords"][...], coords)
        assert all(np.array_equal(h5[f"features/{n}"][...], m) for n, m in before.items())
        assert h5.attrs["creation_date"] == attrs["creation_date"]
    again = encode_slide(slides, out, "--slide-encoders", "mean", "--mean-patch-encoder", FEATURES)
    assert again.exit_code == 0 and "0 done, 2 skipped, 0 failed" in again.output
    assert leftovers(out) == []


def test_moozy_with_random_weights_is_the_moozy_packages_embedding(work, tmp_path: Path) -> None:
    slides, out, weights = work
    result = encode_slide(slides, out, "--slide-encoders", "moozy", "--weights-dir", weights)
    assert result.exit_code == 0, result.output
    h5_file = out / "patches" / "a.h5"
    with h5py.File(h5_file) as h5:
        vector = h5["slide_features/moozy"][...]
        assert set(h5["slide_features/moozy"].attrs) == REFERENCE_ATTRS
        assert h5["slide_features/moozy"].attrs["source_patch_encoder"] == MOOZY_PATCH_ENCODER
    assert vector.shape == (768,) and vector.dtype == np.float32 and np.isfinite(vector).all()
    expected = moozy_package_embedding(weights / "moozy.pt", [h5_file], tmp_path / "ref.h5")
    np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)
    with h5py.File(h5_file, "r+") as h5:
        del h5["slide_features/moozy"]
    again = encode_slide(slides, out, "--slide-encoders", "moozy", "--weights-dir", weights)
    assert again.exit_code == 0 and "1 done, 1 skipped" in again.output, again.output
    with h5py.File(h5_file) as h5:  # computed again, the same
        assert np.array_equal(h5["slide_features/moozy"][...], vector)


def test_missing_patch_features_are_computed_first(work) -> None:
    slides, out, _ = work
    write_slides(slides, ("c",))  # no HDF5 yet: coordinates and features come first
    with h5py.File(out / "patches" / "b.h5", "r+") as h5:
        del h5[f"features/{FEATURES}"]  # an HDF5 without the features the mean reads
    result = encode_slide(slides, out, "--slide-encoders", "mean", "--mean-patch-encoder", FEATURES)
    assert result.exit_code == 0, result.output
    for stem in ("b", "c"):
        with h5py.File(out / "patches" / f"{stem}.h5") as h5:
            assert len(h5[f"features/{FEATURES}"]) == len(h5["coords"]) > 0
            np.testing.assert_allclose(
                h5["slide_features/mean"][...], mean_of(out, stem), rtol=1e-5, atol=1e-6
            )


def test_a_mean_over_another_patch_encoder_replaces_none(work) -> None:
    """A file from before means were kept per patch encoder (slide_features/mean alone) gets
    a mean over resnet18 (its features added here: its weights are not): the earlier mean is
    kept under its own name, slide_features/mean is the latest, and the run says so."""
    slides, out, _ = work
    mean = ("--slide-encoders", "mean", "--mean-patch-encoder")
    assert encode_slide(slides, out, *mean, FEATURES).exit_code == 0
    resnet = {}
    for seed, stem in enumerate("ab"):
        path = out / "patches" / f"{stem}.h5"
        resnet[stem] = add_feature_set(path, "resnet18", 512, seed).astype(np.float64).mean(0)
        with h5py.File(path, "r+") as h5:
            del h5[f"slide_features/mean.{FEATURES}"]  # as the reference leaves the file

    second = encode_slide(slides, out, *mean, "resnet18")
    assert second.exit_code == 0, second.output
    assert (
        f"the mean over {FEATURES} kept as slide_features/mean.{FEATURES}, "
        "slide_features/mean replaced" in second.output
    )
    assert "slide_features/mean.resnet18 added" in second.output
    for stem in "ab":
        with h5py.File(out / "patches" / f"{stem}.h5") as h5:
            group = h5["slide_features"]
            assert sorted(group) == ["mean", f"mean.{FEATURES}", "mean.resnet18"]
            assert group[f"mean.{FEATURES}"].attrs["source_patch_encoder"] == FEATURES
            np.testing.assert_allclose(group[f"mean.{FEATURES}"][...], mean_of(out, stem), 1e-5)
            for name in ("mean", "mean.resnet18"):
                np.testing.assert_allclose(group[name][...], resnet[stem], rtol=1e-5, atol=1e-6)
                assert group[name].attrs["source_patch_encoder"] == "resnet18"
                assert set(group[name].attrs) == REFERENCE_ATTRS

    third = encode_slide(slides, out, *mean, FEATURES)  # the reference's name follows
    assert third.exit_code == 0 and "0 skipped" in third.output, third.output
    with h5py.File(out / "patches" / "a.h5") as h5:
        np.testing.assert_allclose(h5["slide_features/mean"][...], mean_of(out, "a"), 1e-5)
        np.testing.assert_allclose(h5["slide_features/mean.resnet18"][...], resnet["a"], 1e-5)


def test_a_slide_whose_features_cannot_be_made_fails_alone(work) -> None:
    """resnet18's weights are not here (offline, empty cache): slide a has its features,
    slide b lacks them, slide c has no HDF5. a is encoded; b and c fail, named, with why."""
    slides, out, _ = work
    added = add_feature_set(out / "patches" / "a.h5", "resnet18", 512)
    write_slides(slides, ("c",))
    result = encode_slide(
        slides, out, "--slide-encoders", "mean", "--mean-patch-encoder", "resnet18"
    )
    assert result.exit_code == 1
    assert "1 done, 0 skipped, 2 failed of 3 slides" in result.output
    failed = {line.split()[1]: line for line in result.output.splitlines() if "FAILED" in line}
    assert sorted(failed) == ["b.tiff:", "c.tiff:"]
    assert "lacks features/resnet18" in failed["b.tiff:"]
    assert "has no patch features yet" in failed["c.tiff:"]
    assert all("no weights for encoder 'resnet18'" in line for line in failed.values())
    with h5py.File(out / "patches" / "a.h5") as h5:
        expected = added.astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(h5["slide_features/mean"][...], expected, rtol=1e-5, atol=1e-6)
    assert not (out / "patches" / "c.h5").exists()


def test_a_failed_write_leaves_the_slide_file_as_it_was(work, monkeypatch) -> None:
    slides, out, _ = work
    before = (out / "patches" / "a.h5").read_bytes()

    replace = os.replace

    def refuse_a(source, target):  # the last step of writing a.h5 fails
        if Path(target).name == "a.h5":
            raise OSError("disk gone")
        replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_a)
    result = encode_slide(slides, out, "--slide-encoders", "mean", "--mean-patch-encoder", FEATURES)
    assert result.exit_code == 1 and "FAILED   a.tiff: OSError: disk gone" in result.output
    assert "1 done, 0 skipped, 1 failed of 2 slides" in result.output
    assert (out / "patches" / "a.h5").read_bytes() == before
    assert leftovers(out) == []


@pytest.mark.parametrize(
    ("encoder", "patch_size", "patch_encoder", "dim", "repo"),
    [
        ("titan", "512", "conch_v15", 768, "MahmoodLab/TITAN"),
        ("prism", "224", "virchow_v1", 2560, "paige-ai/Prism"),
    ],
)
def test_titan_and_prism_offline_name_what_is_missing(
    work, tmp_path: Path, encoder, patch_size, patch_encoder, dim, repo
) -> None:
    slides, _, _ = work
    out = tmp_path / f"out-{encoder}"
    geometry = ("--patch-size", patch_size, "--target-mag", "20", "--tissue-model", "otsu")
    made = atlaspatch("segment-and-get-coords", slides, "-o", out, *geometry, *CPU)
    assert made.exit_code == 0, made.output
    for stem in ("a", "b"):
        add_feature_set(out / "patches" / f"{stem}.h5", patch_encoder, dim)
    args = ("encode-slide", slides, "-o", out, *geometry, *CPU, "--slide-encoders", encoder)
    result = atlaspatch(*args, "--weights-dir", tmp_path / "empty")
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2
    for line in failed:
        assert f"no weights for slide encoder '{encoder}' ({repo})" in line
        assert "HF_HUB_OFFLINE is set" in line and f"hf download {repo}" in line
        assert "request access" in line  # both are gated


def test_encoders_the_patches_do_not_fit_are_refused_before_any_slide(work) -> None:
    slides, out, _ = work
    wrong_size = atlaspatch(
        "encode-slide", slides, "-o", out, "--patch-size", "256", "--slide-encoders", "moozy"
    )
    assert wrong_size.exit_code != 0 and "need(s) --patch-size 224, not 256" in wrong_size.output
    mixed = atlaspatch("encode-slide", slides, "-o", out, "--slide-encoders", "titan,moozy")
    assert mixed.exit_code != 0 and "different patch-sizes" in mixed.output
    no_choice = atlaspatch("encode-slide", slides, "-o", out, "--slide-encoders", "mean")
    assert no_choice.exit_code != 0 and "--mean-patch-encoder" in no_choice.output
    unknown = atlaspatch("encode-slide", slides, "-o", out, "--slide-encoders", "nope")
    assert unknown.exit_code != 0 and "unknown slide encoder 'nope'" in unknown.output


def test_slide_encoder_files_are_looked_for_locally_first(tmp_path: Path, monkeypatch) -> None:
    from atlaspatch.encoder_service.slide_encoders.catalog import SLIDE_ENCODERS
    from atlaspatch.encoder_service.slide_encoders.files import locate_files

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    given, from_env = tmp_path / "given", tmp_path / "from-env"
    (given / "moozy").mkdir(parents=True)
    (given / "moozy" / "moozy.pt").write_bytes(b"")
    (from_env / "titan").mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (from_env / "titan" / name).write_bytes(b"")
    monkeypatch.setenv("ATLASPATCH_WEIGHTS_DIR", str(from_env))
    moozy = locate_files(SLIDE_ENCODERS["moozy"], given)
    assert moozy["moozy.pt"] == given / "moozy" / "moozy.pt" and moozy.origin == "local"
    titan = locate_files(SLIDE_ENCODERS["titan"], given)
    assert titan.code_location == str(from_env / "titan")  # the code is loaded from there
    assert titan["model.safetensors"] == from_env / "titan" / "model.safetensors"


def test_an_embedding_that_is_not_one_finite_vector_is_refused() -> None:
    from atlaspatch.api.errors import InvalidInput
    from atlaspatch.encoder_service.slide_encoders.base import as_embedding

    assert as_embedding(np.ones((1, 4)), "x", 4).shape == (4,)
    for bad, dim in ((np.array([1.0, np.nan]), 2), (np.ones((2, 4)), 4), (np.ones(3), 4)):
        with pytest.raises(InvalidInput):
            as_embedding(bad, "x", dim)


def test_replacing_the_patch_features_drops_the_slide_embeddings_made_from_them(work) -> None:
    slides, out, _ = work
    mean = ("--slide-encoders", "mean", "--mean-patch-encoder")
    for patch_encoder in (FEATURES, MOOZY_PATCH_ENCODER):  # the latest mean, MOOZY's, stays
        assert encode_slide(slides, out, *mean, patch_encoder).exit_code == 0
    again = ("process", slides, "-o", out, *GEOMETRY, *CPU, "--feature-extractors", FEATURES)
    forced = atlaspatch(*again, "--force")
    dropped = f"dropped slide_features/mean.{FEATURES} (made from the replaced features)"
    assert forced.exit_code == 0 and forced.output.count(dropped) == 2, forced.output
    with h5py.File(out / "patches" / "a.h5") as h5:
        assert sorted(h5["slide_features"]) == ["mean", f"mean.{MOOZY_PATCH_ENCODER}"]
        assert h5["slide_features/mean"].attrs["source_patch_encoder"] == MOOZY_PATCH_ENCODER
    made = encode_slide(slides, out, *mean, FEATURES)  # made anew, not skipped as present
    assert made.exit_code == 0 and "2 done, 0 skipped" in made.output
    with h5py.File(out / "patches" / "a.h5") as h5:
        made_mean = h5[f"slide_features/mean.{FEATURES}"][...]
    np.testing.assert_allclose(made_mean, mean_of(out, "a"), rtol=1e-5)
