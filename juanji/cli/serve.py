"""`juanji serve`: a page to draw a digit and watch the model's feature maps as it decides.

::

    juanji serve runs/RUN/model.juanji              # http://127.0.0.1:8000
    juanji serve --demo                             # a digits model, trained once and cached
    juanji serve MODEL --host 0.0.0.0 --port 8080   # reachable from other machines (warned)

Needs the ``serve`` extra: ``pip install "juanji[serve]"``.
"""

import ipaddress
import sys

from juanji.cli import UsageError, _class_names, _image_input_shape, _load_model


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_parser(sub):
    """Add the ``serve`` command to the subparsers ``sub``."""
    p = sub.add_parser(
        "serve",
        help="a web page to draw digits and watch the network's feature maps",
        description="Serve a page that classifies what you draw or upload and shows the "
        "probabilities, every conv/pool layer's feature maps and the first layer's "
        "filters, with a JSON API (POST /api/predict, GET /api/model).",
    )
    p.add_argument("model", nargs="?", help="a model file (model.juanji); or pass --demo")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="serve the seed CNN trained on the bundled digits: trained on first use "
        "(about half a minute of CPU time) and kept in ~/.cache/juanji ($XDG_CACHE_HOME/juanji)",
    )
    p.add_argument(
        "--max-bytes",
        type=int,
        default=None,
        help="largest request body accepted, in bytes (default 8 MiB)",
    )
    p.set_defaults(run=run)


def run(args):
    """Load (or train) the model, bind the address, and serve until interrupted."""
    if args.demo == (args.model is not None):
        raise UsageError("serve: give a MODEL file or --demo (one of them)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"serve: --port must be in 0..65535, got {args.port}")
    if args.max_bytes is not None and args.max_bytes < 1:
        raise UsageError(f"serve: --max-bytes must be positive, got {args.max_bytes}")
    try:
        import starlette  # noqa: F401 (checked before a demo model is trained)
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise UsageError(
            f'serve needs the serve extra ({error}): pip install "juanji[serve]"'
        ) from None
    from juanji.serve import app as web
    from juanji.serve import demo, inference

    path = demo.demo_model_path() if args.demo else args.model
    model = _load_model(path)
    _image_input_shape(model)
    try:
        inspector = inference.Inspector(model, _class_names(path, model))
    except ValueError as error:
        raise UsageError(f"cannot serve '{path}': {error}") from None
    app = web.create_app(inspector, max_bytes=args.max_bytes or web.DEFAULT_MAX_BYTES)
    server = web.make_server(app)
    try:
        sock = web.listen(args.host, args.port)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error}") from None
    host, port = sock.getsockname()[:2]
    if not _is_loopback(args.host):
        print(
            f"juanji: warning: listening on {args.host}, not a loopback address: anyone who "
            f"can reach this machine on port {port} can use the model. Use --host 127.0.0.1 "
            "to keep it to this machine.",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host
    print(f"juanji: serving '{model.name}' on http://{shown}:{port}/ (Ctrl-C to stop)")
    with sock:
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass  # uvicorn has shut down cleanly and passes the Ctrl-C on: the normal end
    print("juanji: stopped")
    return 0
