"""Where standard error is a log file (SLURM, CI), progress is plain lines: a line per slide
and a few per slide's patches, no escape codes; each warning is written once."""

from __future__ import annotations

import logging

from atlaspatch.orchestrator.cli.boundary import OnlyOnce
from atlaspatch.orchestrator.progress import STEPS, LogLines
from tests.cli import process_run


def test_a_log_file_gets_lines_not_bars(tmp_path, synthetic_slide) -> None:
    result = process_run(
        synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0"
    )
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "\x1b" not in result.output
    patch_lines = [line for line in result.output.splitlines() if " patches (" in line]
    assert 1 <= len(patch_lines) <= STEPS
    assert patch_lines[-1].startswith("synthetic-40x: ") and "(100%)" in patch_lines[-1]
    assert "1/1 slides (100%)" in result.output


def test_lines_come_per_quarter_and_at_the_end(capsys) -> None:
    lines = LogLines(10, "patch", "x", every_one=False)
    for _ in range(10):
        lines.update()
    written = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[1] for line in written] == ["3/10", "6/10", "9/10", "10/10"]
    slides = LogLines(3, "slide", "", every_one=True)
    for _ in range(3):
        slides.update()
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_each_warning_is_written_once() -> None:
    once = OnlyOnce()

    def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("slide", level, __file__, 1, message, None, None)

    assert once.filter(record("DICOM frames hold YCbCr"))
    assert not once.filter(record("DICOM frames hold YCbCr"))  # the next reader thread's
    assert once.filter(record("another slide's"))
    assert once.filter(record("progress", logging.INFO)) and once.filter(
        record("progress", logging.INFO)
    )
