"""`atlaspatch encode-patient` on a real `process` output: the mean pool and MOOZY (random
weights) against independent computations, AtlasPatch 1.1.0's patient file layout, reuse,
a patient with a failed slide, rows that fail their case alone, and manifests that cannot be
used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli import atlaspatch
from tests.output_helpers import leftovers, reports
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


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("encode-patient")
    slides, out = processed_output(root)
    write_random_moozy(root / "weights" / "moozy.pt", seed=1)
    return slides, out, root / "weights"


@pytest.fixture
def work(made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    slides, out, weights = made
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    shutil.copytree(slides, tmp_path / "slides")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "slides", tmp_path / "out", weights


def manifest(folder: Path, rows: list[tuple[str, str]]) -> Path:
    path = folder / "cases.csv"
    path.write_text("case_id,slide_path\n" + "".join(f"{c},{s}\n" for c, s in rows))
    return path


def encode_patient(csv: Path, out: Path, *extra: str | Path):
    return atlaspatch("encode-patient", csv, "-o", out, *GEOMETRY, *CPU, *extra)


def features(out: Path, stems: list[str], encoder: str) -> np.ndarray:
    rows = []
    for stem in stems:
        with h5py.File(out / "patches" / f"{stem}.h5") as h5:
            rows.append(h5[f"features/{encoder}"][...])
    return np.concatenate(rows).astype(np.float64)


def test_mean_and_moozy_patients(work, tmp_path: Path) -> None:
    slides, out, weights = work
    rows = [("P1", "slides/a.tiff"), ("P1", "slides/b.tiff"), ("P2", "slides/b.tiff")]
    csv = manifest(slides.parent, rows)  # paths relative to the manifest's folder
    options = ("--patient-encoders", "mean,moozy", "--mean-patch-encoder", FEATURES)
    result = encode_patient(csv, out, *options, "--weights-dir", weights)
    assert result.exit_code == 0, result.output
    assert "4 done, 0 skipped, 0 failed of 4 patient embeddings" in result.output

    mean_file = out / "patient_features" / "mean" / "P1.h5"
    with h5py.File(mean_file) as h5:
        vector = h5["features"][...]
        expected = features(out, ["a", "b"], FEATURES).mean(axis=0)  # every patch alike
        assert vector.dtype == np.float32 and vector.shape == (1280,)
        np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)
        attrs = dict(h5.attrs)
    assert attrs["encoder_name"] == "mean" and attrs["num_slides"] == 2
    assert attrs["source_patch_encoder"] == FEATURES
    assert attrs["source_manifest"] == str(csv.resolve())
    slide_files = [str((out / "patches" / f"{s}.h5").resolve()) for s in "ab"]
    assert json.loads(attrs["source_slide_h5_paths"]) == slide_files
    summaries = json.loads(attrs["source_slide_patch_summaries"])
    with h5py.File(out / "patches" / "a.h5") as h5:
        assert summaries[0] == {
            "h5_path": slide_files[0],
            "num_patches": len(h5["coords"]),
            "patch_size_level0": int(h5.attrs["patch_size_level0"]),
            "patch_size": 224,
            "target_magnification": 20,
            "wsi_path": h5.attrs["wsi_path"],
        }

    slide_files_b = [out / "patches" / "a.h5", out / "patches" / "b.h5"]
    expected_moozy = moozy_package_embedding(weights / "moozy.pt", slide_files_b, tmp_path / "r.h5")
    with h5py.File(out / "patient_features" / "moozy" / "P1.h5") as h5:
        np.testing.assert_allclose(h5["features"][...], expected_moozy, rtol=1e-5, atol=1e-6)
        assert h5.attrs["source_patch_encoder"] == MOOZY_PATCH_ENCODER
    with h5py.File(out / "patient_features" / "moozy" / "P2.h5") as h5:
        assert h5.attrs["num_slides"] == 1 and np.isfinite(h5["features"][...]).all()

    again = encode_patient(csv, out, *options, "--weights-dir", weights)
    assert again.exit_code == 0 and "0 done, 4 skipped" in again.output
    assert leftovers(out) == []


def test_a_patient_with_a_failed_slide_fails_and_names_it(work) -> None:
    """resnet18 cannot be loaded here: a and b have its features, c has no HDF5."""
    slides, out, _ = work
    for stem in ("a", "b"):
        add_feature_set(out / "patches" / f"{stem}.h5", "resnet18", 512)
    write_slides(slides, ("c",))
    csv = manifest(slides, [("P1", "a.tiff"), ("P1", "c.tiff"), ("P2", "b.tiff")])
    options = ("--patient-encoders", "mean", "--mean-patch-encoder", "resnet18")
    result = encode_patient(csv, out, *options)
    assert result.exit_code == 1
    assert "1 done, 0 skipped, 1 failed of 2 patient embeddings" in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert line.startswith("FAILED   P1 (mean): c.tiff: it has no patch features yet")
    assert "no weights for encoder 'resnet18'" in line
    assert (out / "patient_features" / "mean" / "P2.h5").exists()
    assert not (out / "patient_features" / "mean" / "P1.h5").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("case,slide\nP1,a.tiff\n", "needs columns case_id and slide_path"),
        ("case_id,slide_path\nP1,missing.tiff\n", "cases.csv:2:"),
        ("case_id,slide_path\n../x,a.tiff\n", "cannot be a file name"),
        ("case_id,slide_path\nP1,a.tiff\nP1,a.tiff\n", "listed twice for case P1"),
        ("case_id,slide_path,mpp\nP1,a.tiff,0.25\nP2,a.tiff,0.5\n", "another mpp"),
        ("case_id,slide_path\n", "lists no cases"),
        ("case_id,slide_path\nP\x00,a.tiff\n", "cases.csv:2: case_id 'P\\x00' cannot be"),
    ],
)
def test_manifests_that_cannot_be_used(work, text: str, message: str) -> None:
    slides, out, _ = work
    (slides / "cases.csv").write_text(text)
    result = encode_patient(
        slides / "cases.csv", out, "--patient-encoders", "mean", "--mean-patch-encoder", FEATURES
    )
    assert result.exit_code != 0 and message in result.output, result.output


def test_each_bad_row_fails_its_case_alone_before_any_work(work) -> None:
    """A trailing empty field is no error; a field too many, an id that cannot be a file
    name (too long, NUL, separator) or a missing slide fails that case alone, naming the
    line; c.tiff, listed only by a case whose id is unusable, is never computed."""
    slides, out, _ = work
    write_slides(slides, ("c",))
    long_id = "x" * 201
    rows = [
        "case_id,slide_path",
        "P1,a.tiff,",  # line 2
        "P2,a.tiff,surplus",  # line 3
        f"{long_id},b.tiff",  # line 4
        "P\x00,c.tiff",  # line 5
        "P3,missing.tiff",  # line 6
        "P4,b.tiff",  # line 7
        "P3,b.tiff",  # line 8: P3 fails as a whole, not with b alone
        "x\\y,b.tiff",  # line 9
    ]
    (slides / "cases.csv").write_text("\n".join(rows) + "\n")
    options = ("--patient-encoders", "mean", "--mean-patch-encoder", FEATURES)
    result = encode_patient(slides / "cases.csv", out, *options)

    assert result.exit_code == 1, result.output
    assert "2 done, 0 skipped, 5 failed of 7 patient embeddings" in result.output
    failed = sorted(line for line in result.output.splitlines() if line.startswith("FAILED"))
    csv = slides / "cases.csv"
    assert failed == sorted(
        [
            f"FAILED   P2 (mean): {csv}:3: it has 1 more field(s) than the header",
            f"FAILED   '{long_id[:60]}...' (mean): {csv}:4: case_id '{long_id[:60]}...' "
            "cannot be a file name: it is 201 bytes long in UTF-8, at most 200 are allowed",
            f"FAILED   'P\\x00' (mean): {csv}:5: case_id 'P\\x00' cannot be a file name: "
            "it holds a NUL byte",
            f"FAILED   P3 (mean): {csv}:6: {slides / 'missing.tiff'} does not exist",
            f"FAILED   'x\\\\y' (mean): {csv}:9: case_id 'x\\\\y' cannot be a file name: "
            "it holds a path separator",
        ]
    )
    written = sorted(p.name for p in (out / "patient_features" / "mean").iterdir())
    assert written == ["P1.h5", "P4.h5"]
    assert not (out / "patches" / "c.h5").exists()
    (report,) = [r for r in reports(out) if r["command"] == "encode-patient"]
    assert report["case_counts"] == {"done": 2, "skipped": 0, "failed": 5}
    by_case = {entry["case_id"]: entry for entry in report["cases"]}
    assert by_case["P4"]["status"] == "done" and by_case["P4"]["encoder"] == "mean"
    assert by_case["P4"]["output"] == str(out / "patient_features" / "mean" / "P4.h5")
    assert by_case["P2"]["status"] == "failed" and ":3:" in by_case["P2"]["reason"]
    assert f"report: {out / 'reports'}" in result.output


@pytest.mark.shared_data
def test_a_dicom_slide_is_named_by_its_folder_as_in_every_command(tmp_path: Path) -> None:
    from atlaspatch.orchestrator.slide_encoding.manifest import load_manifest
    from tests.conftest import SLIDES

    folder = SLIDES / "dicom-cmu-1-small-region"
    csv = tmp_path / "cases.csv"
    csv.write_text(f"case_id,slide_path\nP1,{folder}\nP2,{SLIDES}\n")
    manifest = load_manifest(csv, 200)
    (case,) = manifest.cases
    assert case.case_id == "P1" and [source.path for source in case.slides] == [folder]
    assert [bad.label for bad in manifest.bad] == ["P2"]  # a folder of several slides
