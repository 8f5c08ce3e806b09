"""``juanji export MODEL --format onnx [--opset N] [--out FILE]``: a model for other runtimes.

::

    juanji export runs/RUN/model.juanji                 # writes runs/RUN/model.onnx
    juanji export model.keras --opset 13 --out m.onnx   # a Keras 3 file, through juanji
"""

from pathlib import Path


def add_parser(sub):
    """Add the ``export`` command to the subparsers ``sub``."""
    p = sub.add_parser(
        "export",
        help="write a model as an ONNX file for ONNX Runtime and other runtimes",
        description="Export a juanji (or Keras 3 .keras) model file. The ONNX graph takes and "
        "returns juanji's layout (images NHWC) with a dynamic batch axis.",
    )
    p.add_argument("model", help="a model file (model.juanji, or a Keras 3 model.keras)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="default onnx")
    p.add_argument("--opset", type=int, help="the ONNX operator set version (default 17)")
    p.add_argument("--out", help="the file to write (default: MODEL with the suffix .onnx)")
    p.set_defaults(run=run)


def run(args):
    """Load ``args.model``, export it, and print where it went."""
    from juanji.cli import UsageError, _load_model
    from juanji.interop import onnx as onnx_export

    model = _load_model(args.model)
    out = Path(args.out) if args.out else Path(args.model).with_suffix(".onnx")
    if out.resolve() == Path(args.model).resolve():
        raise UsageError(f"--out '{out}' would overwrite the model file itself")
    opset = onnx_export.DEFAULT_OPSET if args.opset is None else args.opset
    try:
        model.export(out, format=args.format, opset=opset)
    except ImportError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {out} (ONNX opset {opset}; the batch axis N is dynamic, images NHWC)")
    return 0
