"""`juanji explain`: the text's lessons measured on a model, and the studies behind them.

::

    juanji explain translation MODEL [--dataset digits] [--out DIR]
    juanji explain parameters MODEL
    juanji explain gradients MODEL [--dataset digits] [--out DIR]
    juanji explain study NAME [--out DIR] [--quick]

MODEL is a model file (``model.juanji``) or a zoo name (``seed``, ``lenet5``, ``mlp``,
``vgg_small``: built untrained, for the 28x28 grayscale images of the datasets).
"""

import json
from pathlib import Path

DEFAULT_OUT = "explain-out"


def add_parser(sub):
    """Add ``explain`` and its subcommands to the ``juanji`` parser's ``sub``."""
    from juanji.cli import _dataset_options, _Parser
    from juanji.explain.studies import STUDIES

    p = sub.add_parser(
        "explain",
        help="the text's lessons, measured: equivariance, parameters, gradients, studies",
        description="Measure the text's claims on a model, or run one of its studies.",
    )
    commands = p.add_subparsers(
        dest="lesson", required=True, metavar="LESSON", parser_class=_Parser
    )

    t = commands.add_parser("translation", help="equivariance per layer, top-1 class under shifts")
    _model_argument(t)
    _dataset_options(t)
    t.add_argument("--samples", type=int, default=200, help="test images used (default 200)")
    t.add_argument("--out", default=DEFAULT_OUT, help=f"folder for PNG and JSON ({DEFAULT_OUT})")
    t.set_defaults(run=run_translation)

    a = commands.add_parser("parameters", help="each convolution against no sharing and dense")
    _model_argument(a)
    a.set_defaults(run=run_parameters)

    g = commands.add_parser("gradients", help="gradient norm per layer, saturation, verdicts")
    _model_argument(g)
    _dataset_options(g)
    g.add_argument("--samples", type=int, default=256, help="training images used (default 256)")
    g.add_argument("--out", default=DEFAULT_OUT, help=f"folder for PNG and JSON ({DEFAULT_OUT})")
    g.set_defaults(run=run_gradients)

    s = commands.add_parser("study", help="run a study: its table, PNG and JSON")
    s.add_argument("name", choices=sorted(STUDIES), help="the study")
    s.add_argument("--out", default="lessons", help="folder for NAME.png and NAME.json")
    s.add_argument("--quick", action="store_true", help="a reduced size (for tests)")
    s.add_argument("--seed", type=int, default=0, help="seed of data and initialisation")
    s.set_defaults(run=run_study)


def _model_argument(parser):
    parser.add_argument("model", help="a model file (model.juanji) or a zoo name (seed, ...)")


def _model(spec, *, compile=False):
    """The model of a MODEL argument: a zoo name builds it, anything else is a model file."""
    from juanji import backend, zoo
    from juanji.cli import _load_model

    if spec in zoo.MODELS and not Path(spec).exists():
        backend.set_seed(0)
        model = zoo.MODELS[spec](input_shape=(28, 28, 1), num_classes=10)
        model.build((None, 28, 28, 1))
        return model
    return _load_model(spec, compile=compile)


def _samples(args):
    from juanji.cli import UsageError

    if args.samples < 1:
        raise UsageError(f"--samples must be at least 1, got {args.samples}")
    return args.samples


def _write(out, name, result):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    return out / f"{name}.png"


def run_translation(args):
    """`juanji explain translation`: equivariance error per layer and top-1 survival."""
    from juanji import explain
    from juanji.cli import UsageError, _model_dataset
    from juanji.explain.plots import plot_translation

    count = _samples(args)
    model = _model(args.model)
    data = _model_dataset(args, model)
    x = data.x_test[:count]
    try:
        zero = explain.layer_equivariance(model, x, padding="zero")
        circular = explain.layer_equivariance(model, x, padding="circular")
    except ValueError as error:
        raise UsageError(str(error)) from None
    result = {
        "model": model.name,
        "samples": len(x),
        "zero": zero,
        "circular": circular,
        "survival": explain.top1_survival(model, x),
    }
    print(f"equivariance error ||f(Tx) - T f(x)|| / ||f(x)|| on {len(x)} test images")
    print(f"{'layer':<20}{'stride':>7}{'zero padding':>15}{'circular':>12}")
    for z, c in zip(zero, circular):
        print(f"{z['layer']:<20}{z['stride']:>7}{z['error']:>15.3e}{c['error']:>12.3e}")
    survival = result["survival"]
    print("share of samples whose top-1 class survives a shift (zero fill):")
    print("shift       " + "".join(f"{s:>7}" for s in survival["shifts"]))
    for axis in ("horizontal", "vertical"):
        print(f"{axis:<12}" + "".join(f"{v:>7.3f}" for v in survival[axis]))
    png = plot_translation(result, _write(args.out, "translation", result))
    print(f"figure: {png}")
    return 0


def run_parameters(args):
    """`juanji explain parameters`: each convolution against no sharing and a dense layer."""
    from juanji import explain
    from juanji.cli import UsageError

    model = _model(args.model)
    try:
        rows = explain.parameter_savings(model)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(f"{'layer':<16}{'input':>12}{'output':>12}{'conv':>10}{'locally conn.':>15}{'dense':>15}")
    for r in rows:
        shape_in, shape_out = ("x".join(map(str, r[k])) for k in ("input", "output"))
        print(
            f"{r['name']:<16}{shape_in:>12}{shape_out:>12}{r['conv']:>10,}"
            f"{r['locally_connected']:>15,}{r['dense']:>15,}"
        )
    return 0


def run_gradients(args):
    """`juanji explain gradients`: per-layer gradient norms, saturation and verdicts."""
    from juanji import explain
    from juanji.cli import _model_dataset
    from juanji.data.utils import to_categorical
    from juanji.explain.plots import plot_gradient_flow

    count = _samples(args)
    model = _model(args.model, compile=True)
    if not model.compiled:
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
    data = _model_dataset(args, model)
    x, y = data.x_train[:count], data.y_train[:count]
    if getattr(model.loss, "targets", None) != "labels":
        y = to_categorical(y, len(data.class_names))
    rows = explain.gradient_flow(model, x, y)
    print(f"gradient flow of '{model.name}' on {len(x)} training images")
    print(explain.format_gradient_flow(rows))
    result = {"model": model.name, "samples": len(x), "layers": rows}
    png = _write(args.out, "gradients", result)
    plot_gradient_flow([("at load", rows)], png, title=f"gradient flow of {model.name}")
    print(f"figure: {png}")
    return 0


def run_study(args):
    """`juanji explain study NAME`: run the study, print its table, write PNG and JSON."""
    from juanji.cli import UsageError
    from juanji.explain.studies import run

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    result = run(args.name, args.out, quick=args.quick, seed=args.seed)
    print(result["table"])
    print(f"figures: {result['png']} and {result['json']}")
    return 0
