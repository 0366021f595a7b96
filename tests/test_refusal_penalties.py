"""Refused calls: callers whose calls keep being refused wait before their next call is read
(others do not, and one honest mistake is answered at once), and a refused request is freed
as soon as it is answered."""

from __future__ import annotations

import gc
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from atlaspatch.api.hosting.penalties import RefusalPenalties
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from tests.service_helpers import code_of, embed_request, start_encoder

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def connection(address: str) -> encoder_pb2_grpc.EncoderStub:
    """A stub on a connection of its own (channels alike otherwise share one)."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    return encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address, options))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_with_recent_refusals_up_to_the_limit_and_fade() -> None:
    clock = Clock()
    penalties = RefusalPenalties(max_delay=2.0, first_delay=0.05, half_life=5.0, clock=clock)
    delays = []
    for _ in range(10):
        delays.append(penalties.delay("a"))
        penalties.refused("a", INVALID)
    assert delays == [0, 0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert penalties.delay("b") == 0  # another connection
    penalties.refused("a", grpc.StatusCode.RESOURCE_EXHAUSTED)  # not the caller's fault
    assert penalties.delay("a") == 2.0
    clock.now += 5 * 5  # five half-lives: 10 refusals count as 0.3
    assert penalties.delay("a") == 0


def test_turned_off_and_bounded() -> None:
    off = RefusalPenalties(max_delay=0, clock=Clock())
    for _ in range(10):
        off.refused("a", INVALID)
    assert off.delay("a") == 0
    few = RefusalPenalties(max_callers=3, clock=Clock())
    for caller in "abcd":
        few.refused(caller, INVALID)
        few.refused(caller, INVALID)
    assert few.delay("a") == 0 and few.delay("d") > 0  # the oldest caller was forgotten


def test_a_refused_connection_waits_and_others_are_served_meanwhile() -> None:
    empty = embed_request(np.zeros((0, 64, 64, 3), np.uint8))
    with start_encoder() as server, ThreadPoolExecutor(1) as pool:
        flooding = connection(server.address)
        started = time.monotonic()
        codes = [code_of(lambda: flooding.Embed(empty, timeout=30)) for _ in range(8)]
        assert codes == [INVALID] * 8
        assert time.monotonic() - started >= 0.05 + 0.1 + 0.2 + 0.4 + 0.8  # waits grew
        waiting = pool.submit(code_of, lambda: flooding.Embed(empty, timeout=30))
        time.sleep(0.2)
        other = connection(server.address)
        assert code_of(lambda: other.Embed(empty, timeout=30)) == INVALID  # at once
        assert len(other.Embed(embed_request(), timeout=30).embeddings) == 1
        assert not waiting.done()  # still waiting its turn
        assert waiting.result() == INVALID


def requests_alive() -> set[int]:
    return {id(o) for o in gc.get_objects() if isinstance(o, encoder_pb2.EmbedRequest)}


@pytest.mark.parametrize("penalty", [2.0, 0.0])
def test_a_refused_request_is_freed_when_answered(penalty: float) -> None:
    huge_names = embed_request(names=["no such encoder " * 1000] * 2)  # refused, never served
    with start_encoder(ServerSettings(refusal_penalty_seconds=penalty)) as server:
        caller = connection(server.address)
        gc.disable()  # only what reference counting frees
        try:
            before = requests_alive()
            for _ in range(3):
                assert code_of(lambda: caller.Embed(huge_names, timeout=30)) in (
                    INVALID,
                    grpc.StatusCode.NOT_FOUND,
                )
            # The server may finish a call a moment after its caller has the answer.
            settled = time.monotonic() + 10
            while (kept := requests_alive() - before) and time.monotonic() < settled:
                time.sleep(0.2)
        finally:
            gc.enable()
    assert kept == set()
