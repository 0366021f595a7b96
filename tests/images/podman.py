"""podman and buildah as the image tests drive them: builds with this machine's package sources,
containers that carry a label so that everything a run made can be found and removed."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from tests.deploy_helpers import REPO

# crun refuses this machine's cgroups and raising rlimits is not permitted (see DESIGN.md); a
# file of our own instead of editing /etc/containers/containers.conf.
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
LABEL = "atlaspatch-image-tests=1"
log = logging.getLogger("atlaspatch.image-tests")
# Tags of this run's images, under a name of their own so that cleaning up touches nothing else.
PREFIX = "localhost/atlaspatch-image-tests"


def environment() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(*argv: str | Path, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    finished = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(),
    )
    if check and finished.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv[:4]))} ... exited {finished.returncode}\n"
            f"{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}"
        )
    return finished


def podman(*argv: str | Path, timeout: float = 600, check: bool = True):
    return run("podman", *argv, timeout=timeout, check=check)


def package_sources() -> tuple[list[str], dict[str, str]]:
    """`buildah bud` arguments giving a build the host's local wheels and proxy CA, if any.

    ATLASPATCH_IMAGE_WHEELS: folders of wheels, separated by ':' (torch's 5 GB, when a
    machine keeps them on disk); ATLASPATCH_IMAGE_CA: a CA bundle for a TLS-intercepting proxy.
    """
    volumes: list[str] = []
    build_args: dict[str, str] = {}
    folders = [f for f in os.environ.get("ATLASPATCH_IMAGE_WHEELS", "").split(":") if f]
    for index, folder in enumerate(folders):
        volumes += ["--volume", f"{folder}:/wheels/{index}:ro"]
    if folders:
        build_args["PIP_FIND_LINKS"] = " ".join(f"/wheels/{i}" for i in range(len(folders)))
    ca = os.environ.get("ATLASPATCH_IMAGE_CA", "")
    if ca:
        volumes += ["--volume", f"{ca}:/etc/ssl/host-ca.crt:ro"]
        build_args["PIP_CERT"] = "/etc/ssl/host-ca.crt"
    return volumes, build_args


def build(
    dockerfile: str,
    tag: str,
    build_args: dict[str, str],
    target: str | None = None,
) -> float:
    """Build deploy/docker/<dockerfile> from the repository; the seconds it took."""
    volumes, source_args = package_sources()
    argv = ["buildah", "bud", "--isolation", "chroot", "--format", "docker", *volumes]
    argv += ["--layers", "-f", f"deploy/docker/{dockerfile}", "-t", tag]
    for name, value in {**source_args, **build_args}.items():
        argv += ["--build-arg", f"{name}={value}"]
    if target:
        argv += ["--target", target]
    log.info("building %s from %s (minutes when nothing is cached)", tag, dockerfile)
    started = time.monotonic()
    finished = subprocess.run(
        [*argv, str(REPO)], capture_output=True, text=True, timeout=3600, env=environment()
    )
    assert finished.returncode == 0, (
        f"building {tag} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    )
    log.info("built %s in %.0f s", tag, time.monotonic() - started)
    return time.monotonic() - started


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def image_layers(tag: str) -> list[str]:
    return json.loads(podman("image", "inspect", "--format", "{{json .RootFS.Layers}}", tag).stdout)


def layer_sizes(tag: str) -> list[int]:
    """Each layer's size, lowest first (`podman history` lists them newest first)."""
    history = json.loads(podman("history", "--format", "json", tag).stdout)
    steps = [e for e in reversed(history) if _makes_a_layer(e.get("CreatedBy", ""))]
    assert len(steps) == len(image_layers(tag)), f"{tag}: history and layers disagree"
    return [step["size"] for step in steps]


def _makes_a_layer(created_by: str) -> bool:
    return "#(nop)" not in created_by or any(f"#(nop) {s} " in created_by for s in ("COPY", "ADD"))


def wait_healthy(container: str, check: list[str] | None = None, timeout: float = 300) -> float:
    """Seconds until the image's own HEALTHCHECK (or `check`, run inside) first passes.

    podman runs health checks from systemd timers; there is no systemd here, so they are run
    by hand, as the timer would."""
    argv = ["exec", container, *check] if check else ["healthcheck", "run", container]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if podman(*argv, check=False, timeout=60).returncode == 0:
            return time.monotonic() - started
        state = podman("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
        assert state == "running", f"{container} is {state}:\n{logs(container)}"
        time.sleep(2)
    raise AssertionError(f"{container} not healthy in {timeout:.0f} s:\n{logs(container)}")


def logs(container: str) -> str:
    return podman("logs", "--tail", "40", container, check=False).stdout[-4000:]


def address(container: str, network: str) -> str:
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return podman("inspect", "--format", template, container).stdout.strip()


def remove_everything_labelled(networks: list[str]) -> None:
    """Containers and pods this run started (by label or by network), then the networks."""
    for network in networks:
        for pod in podman(
            "pod", "ps", "-q", "--filter", f"network={network}", check=False
        ).stdout.split():
            podman("pod", "rm", "-f", pod, check=False)
    for flag in [f"label={LABEL}", *(f"network={n}" for n in networks)]:
        for container in podman("ps", "-aq", "--filter", flag, check=False).stdout.split():
            podman("rm", "-f", "-t", "5", container, check=False)
    for network in networks:
        podman("network", "rm", "-f", network, check=False)


class DiskWatch:
    """The most disk a run used on top of what was in use when it started, sampled every 2 s."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._start = shutil.disk_usage(path).used
        self._peak = self._start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(2):
            self._peak = max(self._peak, shutil.disk_usage(self._path).used)

    def stop(self) -> int:
        """Bytes above the start at the peak."""
        self._done.set()
        self._thread.join()
        return self._peak - self._start
