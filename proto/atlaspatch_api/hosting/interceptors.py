"""Server interceptors: status mapping with metrics, and the optional bearer token."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from atlaspatch_api.hosting.metrics import ServiceMetrics
from atlaspatch_api.hosting.status import status_of

HEALTH_PREFIX = "/grpc.health.v1.Health/"


def _wrap_unary(handler: grpc.RpcMethodHandler, behaviour: Callable[..., Awaitable[Any]]):
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class StatusInterceptor(grpc.aio.ServerInterceptor):
    """Maps exceptions to statuses (status.py) and counts every call by method and code."""

    def __init__(self, metrics: ServiceMetrics):
        self._metrics = metrics

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if (
            handler is None
            or handler.unary_unary is None
            or details.method.startswith(HEALTH_PREFIX)
        ):
            return handler
        method = details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary

        async def behaviour(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await inner(request, context)
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                code, message = status_of(exc)
                await context.abort(code, message)
            finally:
                self._metrics.request(method, code.name, time.perf_counter() - started)

        return _wrap_unary(handler, behaviour)


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Requires `authorization: Bearer <token>` on every call but health checks, from the
    call's metadata alone: a refused call's message is never read, so an unauthenticated
    caller cannot make the service hold it."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(self, continuation, details):
        if details.method.startswith(HEALTH_PREFIX):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        given = given.encode() if isinstance(given, str) else bytes(given)
        if hmac.compare_digest(given, self._expected):  # in constant time
            return await continuation(details)

        async def refuse(requests, context: grpc.aio.ServicerContext):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")

        # Served as a stream of requests, the call is answered before its message is read.
        return grpc.stream_unary_rpc_method_handler(refuse)
