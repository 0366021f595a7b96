"""The images built and run for real (`make test-images`): a Debian base made with debootstrap,
the images built on it with buildah, their containers, compose stack and chart run with podman.

Collected only with ATLASPATCH_TEST_IMAGES=1: a run takes about 10 minutes and 20 GiB of disk
at its peak. Everything a run makes (containers, pods, networks, images) is
removed at its end, also when a test fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import SLIDES
from tests.deploy_helpers import REPO
from tests.images import podman as pm

if os.environ.get("ATLASPATCH_TEST_IMAGES") != "1":
    collect_ignore_glob = ["test_*.py"]

SLIDE = "CMU-1-Small-Region.svs"
NETWORK = "atlaspatch-image-tests"
# Figures of this run: build times, image sizes, how long containers took to become healthy.
FIGURES: dict[str, float | int | str | list[int]] = {}
REPORT = REPO / "build" / "test-images.json"
NEEDED_GIB = 21  # measured 19-20 at the peak: the Triton build, the other images still there
# The job every run does, in containers and in one process: the same options, the same result.
PROCESS_OPTIONS = ["--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu"]
PROCESS_OPTIONS += ["--feature-extractors", "efficientnet_lite0"]


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(FIGURES, indent=2) + "\n")
        terminalreporter.write_line(json.dumps(FIGURES))


@pytest.fixture(scope="session", autouse=True)
def clean_up_afterwards():
    started = time.monotonic()
    store = pm.podman("info", "--format", "{{.Store.GraphRoot}}").stdout.strip()
    free = shutil.disk_usage(store).free / 2**30
    if free < NEEDED_GIB:
        short = f"{free:.0f} GiB free under {store}: building the images needs about {NEEDED_GIB}"
        # CI machines differ in disk: there, say so and skip rather than fail halfway through.
        if os.environ.get("ATLASPATCH_IMAGE_TESTS_SKIP_SHORT_DISK") == "1":
            pytest.skip(short)
        pytest.exit(f"{short}; free some, or give podman a graphroot with room", returncode=1)
    disk = pm.DiskWatch(store)
    before = set(pm.podman("images", "--all", "--quiet", "--no-trunc").stdout.split())
    volumes_before = set(pm.podman("volume", "ls", "--quiet").stdout.split())
    yield
    pm.remove_everything_labelled([NETWORK])
    # `podman kube play` makes a named volume of each emptyDir.
    for volume in set(pm.podman("volume", "ls", "--quiet").stdout.split()) - volumes_before:
        pm.podman("volume", "rm", "-f", volume, check=False)
    # The images this run tagged, then those it made untagged (buildah's cached layers, the
    # pause image of `podman kube play`), newest first so that children go before parents.
    for tag in pm.podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if tag.startswith(pm.PREFIX):
            pm.podman("rmi", "-f", tag, check=False)
    after = pm.podman("images", "--all", "--quiet", "--no-trunc", "--sort", "created").stdout
    for image in reversed(after.split()):
        if image not in before:
            pm.podman("rmi", "-f", image, check=False)
    FIGURES["total_seconds"] = round(time.monotonic() - started)
    FIGURES["peak_disk_gib"] = round(disk.stop() / 2**30, 1)


@pytest.fixture(scope="session")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian bookworm from Debian's own packages: no registry is needed.

    ATLASPATCH_IMAGE_BASE names an image to build on instead (kept afterwards)."""
    if os.environ.get("ATLASPATCH_IMAGE_BASE"):
        return os.environ["ATLASPATCH_IMAGE_BASE"]
    tag = f"{pm.PREFIX}/debian:bookworm-min"
    rootfs = tmp_path_factory.mktemp("rootfs")
    pm.log.info("making %s with debootstrap", tag)
    started = time.monotonic()
    pm.run("debootstrap", "--variant=minbase", "bookworm", rootfs, timeout=1200)
    # As Debian's own images ship: without the package archives and indexes debootstrap keeps.
    apt = rootfs / "var" / "cache" / "apt"
    for cached in [*apt.glob("*.bin"), *(apt / "archives").glob("*.deb")]:
        cached.unlink()
    archive = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["podman", "import", "-", tag],
        stdin=archive.stdout,
        capture_output=True,
        env=pm.environment(),
    )
    archive.wait()
    assert imported.returncode == 0, imported.stderr
    shutil.rmtree(rootfs, ignore_errors=True)
    FIGURES["base_seconds"] = round(time.monotonic() - started)
    FIGURES["base_bytes"] = pm.image_size(tag)
    return tag


@pytest.fixture(scope="session")
def images(base_image: str) -> dict[str, str]:
    """The services and orchestrator images, two targets of one Dockerfile."""
    tags = {
        "services": f"{pm.PREFIX}/atlaspatch-services:0.1.0",
        "orchestrator": f"{pm.PREFIX}/atlaspatch-orchestrator:0.1.0",
    }
    for target, tag in tags.items():
        bases = {"BASE": base_image, "CLIENT_BASE": base_image}
        seconds = pm.build("atlaspatch.Dockerfile", tag, bases, target=target)
        FIGURES[f"{target}_build_seconds"] = round(seconds)
        FIGURES[f"{target}_bytes"] = pm.image_size(tag)
    return tags


@pytest.fixture(scope="session")
def network(images: dict[str, str]) -> str:
    pm.podman("network", "create", NETWORK, check=False)
    return NETWORK


@pytest.fixture(scope="session")
def slides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one real slide, readable by the images' user."""
    if not (SLIDES / SLIDE).is_file():
        pytest.fail(f"{SLIDES / SLIDE} is missing: the image tests need ../shared/data")
    folder = tmp_path_factory.mktemp("slides")
    shutil.copy(SLIDES / SLIDE, folder / SLIDE)
    folder.chmod(0o755)
    (folder / SLIDE).chmod(0o644)
    return folder


@pytest.fixture(scope="session")
def in_process_h5(slides: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same job in one process on this machine: what every container run must equal."""
    out = tmp_path_factory.mktemp("in-process")
    argv = [REPO / ".venv" / "bin" / "atlaspatch", "process", slides / SLIDE, "--output", out]
    pm.run(*argv, *PROCESS_OPTIONS, "--device", "cpu", timeout=900)
    return out / "patches" / f"{Path(SLIDE).stem}.h5"


def writable_output(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """An output folder the images' user (uid 10001) can write."""
    folder = tmp_path_factory.mktemp(name)
    folder.chmod(0o777)
    return folder
