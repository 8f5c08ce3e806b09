"""The web app of ``juanji serve``: one page at ``/`` and a JSON API (Starlette + uvicorn).

::

    GET  /                 the page (static/index.html, with its script and style sheet)
    GET  /api/model        the model's summary (see ``Inspector.summary``)
    POST /api/predict      one input -> {"probabilities", "top"[, "maps", "input"]}

``POST /api/predict`` takes either ``application/json`` ``{"input": <nested array of the
model's input shape>}`` or ``multipart/form-data`` with an image file in the field ``file``.
Query parameters: ``maps=1`` adds the feature maps, ``top=K`` lists K classes (default 3,
or all when fewer),
``invert=1|auto`` inverts an uploaded image (see ``Inspector.input_from_image``).

Every error is JSON ``{"error": "..."}`` with a 4xx status: 400 for a malformed request
(an empty body, bad JSON, no ``file`` field, bytes that are not an image, a bad query
parameter), 404 and 405 for unknown paths and methods, 413 for a body over ``max_bytes``,
415 for another content type, 422 for an input of the wrong shape or with NaN or infinite
values. An unexpected failure is logged and answered 500 with a one-line JSON error,
never a traceback.

Inference runs on Starlette's thread pool, so that requests are answered in parallel and the
event loop keeps accepting connections meanwhile; it needs no lock (see ``inference``).

Starlette and uvicorn come with the ``serve`` extra: ``pip install "juanji[serve]"``.
"""

import json
import logging
import socket
from pathlib import Path

from juanji.serve.inference import ImageError, InputError

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
_LOG = logging.getLogger("juanji.serve")
# The page's own files only: no inline script, nothing from elsewhere.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:",
    "X-Content-Type-Options": "nosniff",
}
_INVERT_CHOICES = ("0", "1", "auto")


class RequestError(Exception):
    """A request answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _query_options(request, classes):
    """``(maps, top, invert)`` from the query string, checked."""
    query = request.query_params
    maps = query.get("maps", "0")
    if maps not in ("0", "1"):
        raise RequestError(400, f"Expected maps=0 or maps=1. Received: maps={maps!r}")
    top = query.get("top", str(min(3, classes)))
    if not top.isdigit() or not 1 <= int(top) <= classes:
        raise RequestError(
            400, f"Expected top to be an integer from 1 to {classes}. Received: top={top!r}"
        )
    invert = query.get("invert", "0")
    if invert not in _INVERT_CHOICES:
        raise RequestError(
            400, f"Expected invert to be one of 0, 1, auto. Received: invert={invert!r}"
        )
    return maps == "1", int(top), invert


def _media_type(request):
    """The request's content type without its parameters, lower-case ('' when missing)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_body(request, max_bytes):
    """The request body, refused (413) as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestError(
            413, f"Expected a body of at most {max_bytes} bytes. Received: {declared} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestError(413, f"Expected a body of at most {max_bytes} bytes. Received: more")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_input(body):
    """The ``input`` value of a JSON body."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        message = "nesting too deep" if isinstance(error, RecursionError) else str(error)
        raise RequestError(
            400, f"Expected a JSON body. Received: invalid JSON ({message})"
        ) from None
    if not isinstance(payload, dict) or "input" not in payload:
        raise RequestError(
            400, 'Expected a JSON object {"input": <nested array>}. Received: no "input" key'
        )
    return payload["input"]


async def _uploaded_file(request, body):
    """The bytes of the multipart field ``file`` of a body already read."""
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=16)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestError(
                400, "Expected an image file in the multipart field 'file'. Received: none"
            )
        data = await upload.read()
    finally:
        await form.close()
    if not data:
        raise RequestError(400, "Expected an image file in 'file'. Received: an empty file")
    return data


def create_app(inspector, *, max_bytes=DEFAULT_MAX_BYTES):
    """The Starlette app serving ``inspector``'s model.

    Args:
        inspector: a ``juanji.serve.Inspector``.
        max_bytes: the largest request body accepted (an upload or a JSON input).

    Returns:
        An ASGI app (run it with uvicorn, or test it with ``starlette.testclient``).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    summary = inspector.summary()
    classes = len(summary["classes"])

    async def page(request):
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    async def model(request):
        return JSONResponse(summary)

    async def predict(request):
        maps, top, invert = _query_options(request, classes)
        kind = _media_type(request)
        if kind not in ("application/json", "multipart/form-data"):
            raise RequestError(
                415,
                "Expected Content-Type application/json or multipart/form-data. "
                f"Received: {kind or 'none'}",
            )
        body = await _read_body(request, max_bytes)
        if not body:
            raise RequestError(400, "Expected a request body. Received: an empty body")
        if kind == "application/json":
            value = _json_input(body)
            x = await run_in_threadpool(inspector.input_from_array, value)
        else:
            data = await _uploaded_file(request, body)
            x = await run_in_threadpool(inspector.input_from_image, data, invert)
        result = await run_in_threadpool(inspector.predict, x, top=top, maps=maps)
        return JSONResponse(result)

    async def request_error(request, error):
        return JSONResponse({"error": error.message}, status_code=error.status)

    async def input_error(request, error):
        status = 400 if isinstance(error, ImageError) else 422
        return JSONResponse({"error": str(error)}, status_code=status)

    async def http_error(request, error):
        return JSONResponse(
            {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    async def server_error(request, error):
        _LOG.error("%s %s failed: %r", request.method, request.url.path, error)
        return JSONResponse({"error": f"internal error ({type(error).__name__})"}, status_code=500)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/model", model),
            Route("/api/predict", predict, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
        ],
        exception_handlers={
            RequestError: request_error,
            InputError: input_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )


def listen(host, port):
    """A socket bound to ``(host, port)`` and listening (port 0: a free one).

    Raises:
        OSError: the address is in use, or not this machine's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def make_server(app, *, log_level="info"):
    """A uvicorn server for ``app``; ``server.run(sockets=[listen(host, port)])`` serves
    until ``server.should_exit`` is set (or Ctrl-C, on the main thread)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))


__all__ = ["DEFAULT_MAX_BYTES", "RequestError", "create_app", "listen", "make_server"]
