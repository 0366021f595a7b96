"""Server interceptors: status mapping with metrics and refusal penalties, and the optional
bearer token."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from atlaspatch.api.hosting.metrics import ServiceMetrics
from atlaspatch.api.hosting.penalties import RefusalPenalties
from atlaspatch.api.hosting.status import status_of

HEALTH_PREFIX = "/grpc.health.v1.Health/"


def _wrap_unary(handler: grpc.RpcMethodHandler, behaviour: Callable[..., Awaitable[Any]]):
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class StatusInterceptor(grpc.aio.ServerInterceptor):
    """Maps exceptions to statuses (status.py), counts every call by method and code, and
    makes callers that keep being refused wait before their next message is read
    (penalties.py)."""

    def __init__(self, metrics: ServiceMetrics, penalties: RefusalPenalties | None = None):
        self._metrics = metrics
        self._penalties = penalties

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(HEALTH_PREFIX):
            return handler
        method = details.method.rsplit("/", 1)[-1]
        if handler.stream_unary is not None:
            return self._stream_of_requests(handler, method)
        if handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        penalties = self._penalties

        async def behaviour(request, context: grpc.aio.ServicerContext):
            return await self._answered(method, context, inner(request, context))

        if penalties is None:
            return _wrap_unary(handler, behaviour)

        async def after_penalty(requests, context: grpc.aio.ServicerContext):
            await self._penalty(context)
            # The call's one message, read only now (with context.read: an iterator over
            # `requests` would keep the message until the iterator is collected).
            request = await context.read()
            if request is grpc.aio.EOF:
                context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
                context.set_details("a call without a message")
                return None
            return await behaviour(request, context)

        # Served as a stream of requests, a call's message is read only after its wait.
        return grpc.stream_unary_rpc_method_handler(
            after_penalty,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _stream_of_requests(self, handler: grpc.RpcMethodHandler, method: str):
        inner = handler.stream_unary

        async def behaviour(requests, context: grpc.aio.ServicerContext):
            await self._penalty(context)  # before its first message is read
            return await self._answered(method, context, inner(requests, context))

        return grpc.stream_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    async def _penalty(self, context: grpc.aio.ServicerContext) -> None:
        if self._penalties is None:
            return
        wait = self._penalties.delay(context.peer())
        if wait:
            await asyncio.sleep(wait)

    async def _answered(
        self, method: str, context: grpc.aio.ServicerContext, answer: Awaitable[Any]
    ) -> Any:
        """The call's answer; an exception becomes its status, counted with the others."""
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await answer
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            code, message = status_of(exc)
            # Not context.abort: its exception stays in a reference cycle with the call,
            # and with it every frame that held the request (a refused 6 MB request
            # kept 49 MB until the next full garbage collection).
            context.set_code(code)
            context.set_details(message)
            return None
        finally:
            self._metrics.request(method, code.name, time.perf_counter() - started)
            if self._penalties is not None:
                self._penalties.refused(context.peer(), code)


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Requires `authorization: Bearer <token>` on every call but health checks, from the
    call's metadata alone: a refused call's message is never read, so an unauthenticated
    caller cannot make the service hold it."""

    def __init__(self, token: str, penalties: RefusalPenalties | None = None):
        self._expected = f"Bearer {token}".encode()
        self._penalties = penalties

    async def intercept_service(self, continuation, details):
        if details.method.startswith(HEALTH_PREFIX):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        given = given.encode() if isinstance(given, str) else bytes(given)
        if hmac.compare_digest(given, self._expected):  # in constant time
            return await continuation(details)

        penalties = self._penalties

        async def refuse(requests, context: grpc.aio.ServicerContext):
            if penalties is not None:
                await asyncio.sleep(penalties.delay(context.peer()))
                penalties.refused(context.peer(), grpc.StatusCode.UNAUTHENTICATED)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")

        # Served as a stream of requests, the call is answered before its message is read.
        return grpc.stream_unary_rpc_method_handler(refuse)
