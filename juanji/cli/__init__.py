"""The ``juanji`` command: train, evaluate, predict, features, summary, export, run-keras1.

::

    juanji train                                   # the seed CNN on the bundled digits
    juanji train --dataset mnist --data-dir DIR    # the text's run on MNIST
    juanji train --resume --out runs/RUN           # continue an interrupted run
    juanji evaluate runs/RUN/model.juanji --dataset digits
    juanji predict runs/RUN/model.juanji digit.png --top 3
    juanji features runs/RUN/model.juanji --dataset digits --svm rbf
    juanji summary runs/RUN/model.juanji
    juanji export runs/RUN/model.juanji --format onnx [--opset N]
    juanji run-keras1 script.py [args...]

A training run writes into its folder: ``args.json`` (the options, reused by ``--resume``),
``model.juanji``, ``history.csv`` and ``history.json``, ``metrics.json``, ``report.html``
with its figures, and while it runs ``backup/`` (the last finished epoch, removed once all
the rest is written) and ``.lock`` (held by the running process: a second run into the same
folder is refused).

Errors that a user can fix (a missing file, an unknown dataset, an unreadable image or
model) print one line ``juanji: error: ...`` on stderr and exit with status 2.
"""

import argparse
import contextlib
import csv
import importlib
import io
import itertools
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

import juanji
from juanji import backend, callbacks, optimizers, registry, report, runs, saving, zoo
from juanji.data.images import image_dataset_from_directory, img_to_array, load_img, resize_images
from juanji.data.utils import atomic_write, to_categorical, train_test_split
from juanji.datasets import digits, mnist
from juanji.models import load_model
from juanji.preprocessing.image import ImageDataGenerator

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

# Defaults that depend on the dataset: the digits run must finish within a minute on 2 cores;
# MNIST follows the text (10 epochs of batch 100).
DATASET_DEFAULTS = {
    "digits": {"epochs": 12, "batch_size": 32},
    "mnist": {"epochs": 10, "batch_size": 100},
    "folder": {"epochs": 10, "batch_size": 32},
}
# Training options stored in RUN_DIR/args.json; None means "the default".
TRAIN_OPTIONS = (
    "dataset",
    "data_dir",
    "model",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "augment",
    "seed",
    "validation_split",
    "image_size",
    "color_mode",
    "loss",
    "activation",
    "output_activation",
)
_CHANNELS = {"grayscale": 1, "rgb": 3}
GRADIENT_FLOW_SAMPLES = 128  # training images on which the report's gradient flow is measured
_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


class UsageError(Exception):
    """A mistake in the command line or its inputs, reported as one line without traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        command = self.prog.removeprefix("juanji").strip()
        raise UsageError(f"{command}: {message}" if command else message)


# --- data --------------------------------------------------------------------------------
class Dataset(NamedTuple):
    """A dataset ready for a model: float32 images in [0, 1] ``(N, H, W, C)``, int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list


def dataset_kind(spec):
    """``"digits"``, ``"mnist"`` or ``"folder"`` for a ``--dataset`` value.

    Raises:
        UsageError: for any other value.
    """
    if spec in ("digits", "mnist"):
        return spec
    if isinstance(spec, str) and spec.startswith("folder:") and len(spec) > len("folder:"):
        return "folder"
    raise UsageError(f"unknown dataset {spec!r}: expected digits, mnist or folder:PATH")


def _conform(x, image_size, channels):
    """Images ``(N, h, w, c)`` resized (bilinear) to ``image_size`` with ``channels``."""
    if x.shape[3] != channels:
        if channels == 1:
            x = x[..., :3].mean(axis=3, keepdims=True)
        elif x.shape[3] == 1:
            x = np.repeat(x, channels, axis=3)
        else:
            raise UsageError(f"cannot convert {x.shape[3]}-channel images to {channels} channels")
    return resize_images(x, image_size)


def _load_folder(path, image_size, color_mode):
    """``PATH/train`` and ``PATH/test`` if both exist, else PATH split 80/20 by class."""
    options = {"color_mode": color_mode, "image_size": tuple(image_size), "shuffle": False}
    if (path / "train").is_dir() and (path / "test").is_dir():
        train = image_dataset_from_directory(path / "train", **options)
        test = image_dataset_from_directory(path / "test", class_names=train.class_names, **options)
        return (train.x, train.y), (test.x, test.y), train.class_names
    data = image_dataset_from_directory(path, **options)
    x_train, x_test, y_train, y_test = train_test_split(
        data.x, data.y, test_size=0.2, seed=0, stratify=data.y
    )
    return (x_train, y_train), (x_test, y_test), data.class_names


def load_dataset(spec, *, data_dir=None, image_size=(28, 28), channels=1):
    """Load ``digits``, ``mnist`` or ``folder:PATH`` as a :class:`Dataset`.

    Args:
        spec: the ``--dataset`` value.
        data_dir: where the MNIST files are (see ``juanji.datasets.mnist.load_data``).
        image_size: ``(height, width)`` of the returned images.
        channels: 1 (grayscale) or 3 (RGB).

    Raises:
        UsageError: for an unknown dataset; ValueError or OSError from the loaders.
    """
    kind = dataset_kind(spec)
    names = [str(i) for i in range(10)]
    if kind == "digits":
        (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=tuple(image_size))
    elif kind == "mnist":
        (x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir)
        x_train, x_test = x_train[..., None], x_test[..., None]  # Keras's (N, 28, 28) to NHWC
    else:
        path = Path(spec[len("folder:") :])
        if not path.is_dir():
            raise UsageError(f"no image folder at '{path}'")
        (x_train, y_train), (x_test, y_test), names = _load_folder(
            path, image_size, _COLOR_MODES[channels]
        )
    x_train, x_test = (
        _conform(x, image_size, channels).astype(np.float32) / 255 for x in (x_train, x_test)
    )
    return Dataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), names)


def _image_input_shape(model):
    """The model's input shape ``(None, H, W, C)``; a UsageError if it does not take images."""
    shape = model.build_input_shape
    if shape is None or len(shape) != 4:
        raise UsageError(f"model '{model.name}' does not take images; its input shape is {shape}")
    return shape


def _model_dataset(args, model):
    """The dataset at the model's input size and channels, checked against its classes."""
    shape = _image_input_shape(model)
    data = load_dataset(
        args.dataset, data_dir=args.data_dir, image_size=shape[1:3], channels=shape[3]
    )
    classes = model.output_shape[-1]
    if classes != len(data.class_names):
        raise UsageError(
            f"model '{model.name}' predicts {classes} classes but dataset "
            f"{args.dataset!r} has {len(data.class_names)}"
        )
    return data


# --- model files -------------------------------------------------------------------------
def _load_model(path, compile=False):
    try:
        return load_model(path, compile=compile)
    except FileNotFoundError:
        raise UsageError(f"no model file at '{path}'") from None
    except (ValueError, KeyError, TypeError, ImportError) as error:  # ImportError: no h5py
        raise UsageError(f"cannot load model '{path}': {error}") from None


def _class_names(path, model):
    names = saving.read_extra(path).get("class_names")
    count = model.output_shape[-1]
    return names if names and len(names) == count else [str(i) for i in range(count)]


# --- train -------------------------------------------------------------------------------
def _run_dir(args):
    """``--out``, or a new folder ``runs/<timestamp>[.n]`` (created: two runs never share)."""
    if args.out:
        return Path(args.out)
    base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    for suffix in itertools.count():
        run_dir = base.with_name(f"{base.name}.{suffix}") if suffix else base
        with contextlib.suppress(FileExistsError):
            run_dir.mkdir(parents=True)
            return run_dir


def _resolved_options(args):
    """The training options with the dataset's defaults filled in, as JSON values."""
    kind = dataset_kind(args.dataset or "digits")
    options = {name: getattr(args, name) for name in TRAIN_OPTIONS}
    options["dataset"] = args.dataset or "digits"
    if kind == "folder":
        options["dataset"] = "folder:" + os.path.abspath(options["dataset"][len("folder:") :])
    if options["data_dir"] is not None:
        options["data_dir"] = os.path.abspath(options["data_dir"])
    for name, value in DATASET_DEFAULTS[kind].items():
        if options[name] is None:
            options[name] = value
    fallbacks = {
        "model": "seed",
        "augment": False,
        "seed": 0,
        "validation_split": 0.2,
        "image_size": 28,
        "color_mode": "grayscale",
        "loss": "categorical_crossentropy",
        "output_activation": "softmax",
    }
    for name, value in fallbacks.items():
        if options[name] is None:
            options[name] = value
    if options["epochs"] < 1 or options["batch_size"] < 1:
        raise UsageError("--epochs and --batch-size must be positive")
    if not 0 <= options["validation_split"] < 1:
        raise UsageError(f"--validation-split must be in [0, 1), got {options['validation_split']}")
    _check_name("loss", options["loss"], "--loss")
    if options["activation"] != "prelu":  # a layer of its own, which the zoo adds
        _check_name("activation", options["activation"], "--activation")
    _check_name("activation", options["output_activation"], "--output-activation")
    return options


def resolve_train_options(argv):
    """The options that ``juanji train ARGV`` would run with (defaults filled in).

    Raises:
        UsageError: for an unknown option, value or name in ``argv``.
    """
    return _resolved_options(build_parser().parse_args(argv))


def _check_name(kind, name, option):
    """A UsageError unless ``name`` (or None) is a registered ``kind``."""
    if name is None:
        return
    try:
        registry.get(kind, name)
    except ValueError:
        raise UsageError(f"{option}: unknown {kind} {name!r}") from None


def _train_options(args, run_dir):
    """The options of this run: from the command line, or from ``args.json`` to resume."""
    saved = run_dir / "args.json"
    if args.resume:
        if not args.out:
            raise UsageError("--resume needs --out RUN_DIR, the folder of the interrupted run")
        given = [
            f"--{n.replace('_', '-')}"
            for n in TRAIN_OPTIONS
            if n != "epochs" and getattr(args, n) is not None
        ]
        if given:
            raise UsageError(
                f"--resume reuses the options in {saved}; do not pass {', '.join(given)}"
            )
        if not saved.is_file():
            raise UsageError(f"nothing to resume: no run in '{run_dir}' ({saved} is missing)")
        options = json.loads(saved.read_text())
        runs.resume_source(run_dir, options, args.epochs)
        if args.epochs is not None:
            options["epochs"] = args.epochs
            _write_json(saved, options)
        return options
    if (run_dir / "model.juanji").exists() or (run_dir / "backup").exists():
        raise UsageError(
            f"'{run_dir}' already holds a run; choose another --out, or pass "
            "--resume to continue it"
        )
    options = _resolved_options(args)
    _write_json(saved, options)
    return options


def _write_json(path, value):
    atomic_write(path, (json.dumps(value, indent=1) + "\n").encode())


def build_model(options, input_shape, num_classes):
    """The zoo model named by ``options["model"]`` with the run's hidden and output
    activations and loss, compiled with its own recipe unless ``optimizer`` or
    ``learning_rate`` say otherwise. Options missing from older runs take their defaults."""
    loss = options.get("loss") or "categorical_crossentropy"
    model = zoo.MODELS[options["model"]](
        input_shape=input_shape,
        num_classes=num_classes,
        activation=options.get("activation"),
        output_activation=options.get("output_activation") or "softmax",
        loss=loss,
    )
    if options["optimizer"] is not None or options["learning_rate"] is not None:
        optimizer = (
            optimizers.get(options["optimizer"])
            if options["optimizer"] is not None
            else model.optimizer
        )
        if options["learning_rate"] is not None:
            optimizer.learning_rate = options["learning_rate"]
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def _training_callbacks(run_dir, resume, options):
    """The callbacks of a run: the history file, then the backup that ``--resume`` uses
    (kept until the run's files are all written, and recording its options)."""
    return [
        callbacks.CSVLogger(run_dir / "history.csv", append=resume),
        callbacks.BackupAndRestore(
            run_dir / "backup", delete_checkpoint=False, extra=runs.backup_record(options)
        ),
    ]


def _read_history(path):
    """``history.csv`` as ``{log: [one value per epoch]}``, the last row of each epoch kept
    (an interrupted epoch may have been logged twice); missing values are None."""
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f)}
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch":
                history.setdefault(key, []).append(None if value == "NA" else float(value))
    return history


def _truncate_history(path, epochs):
    """Keep only the rows of the first ``epochs`` epochs (those the backup holds)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, [r for r in reader if int(r["epoch"]) < epochs]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue().encode())


def hold_out(data, fraction, seed=0):
    """The training images split into a part to fit and a validation part, shuffled
    (seeded, so a resumed run holds out the same images) and stratified by class, so that
    validation holds every class in its share of the training set, whatever order the
    images were loaded in (a folder's come sorted by class).

    Returns:
        ``(x_fit, y_fit, validation)``: labels one-hot; ``validation`` an ``(x, y)`` pair
        of ``int(N * fraction)`` images, or None when that is 0.
    """
    y = to_categorical(data.y_train, len(data.class_names))
    n_val = int(len(data.x_train) * fraction)
    if not n_val:
        return data.x_train, y, None
    x_fit, x_val, y_fit, y_val = train_test_split(
        data.x_train, y, test_size=n_val, seed=seed, stratify=data.y_train
    )
    return x_fit, y_fit, (x_val, y_val)


def _fit(model, data, options, run_dir, resume, verbose, extra_callbacks=()):
    """Train; returns (seconds, epochs run in this call, training samples, gradient flow)."""
    from juanji.explain import GradientFlow

    x_fit, y_fit, validation = hold_out(data, options["validation_split"])
    if validation is not None and len(x_fit) < options["batch_size"]:
        raise UsageError(
            f"--validation-split {options['validation_split']} leaves {len(x_fit)} of "
            f"{len(data.x_train)} training images, fewer than one batch ({options['batch_size']})"
        )
    gradient_flow = GradientFlow(x_fit[:GRADIENT_FLOW_SAMPLES], y_fit[:GRADIENT_FLOW_SAMPLES])
    cbs = [*_training_callbacks(run_dir, resume, options), gradient_flow, *extra_callbacks]
    fit_args = {
        "epochs": options["epochs"],
        "validation_data": validation,
        "callbacks": cbs,
        "verbose": verbose,
        "batch_size": options["batch_size"],
    }
    if options["augment"]:
        generator = ImageDataGenerator(
            rotation_range=10, width_shift_range=0.1, height_shift_range=0.1, fill_mode="constant"
        )
        flow = generator.flow(x_fit, y_fit, batch_size=options["batch_size"])
        fit_args.update(x=flow, steps_per_epoch=len(flow))
    else:
        fit_args.update(x=x_fit, y=y_fit)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nan_stop says it, below
            history = model.fit(**fit_args)
    finally:
        for cb in cbs:
            if isinstance(cb, callbacks.CSVLogger):
                cb.on_train_end()  # closes the file, also when interrupted
    if history.nan_stop:
        stop = history.nan_stop
        raise UsageError(
            f"training stopped at epoch {stop['epoch'] + 1}, batch {stop['batch']}: "
            f"{stop['reason']}; try a smaller --learning-rate"
        )
    return time.perf_counter() - start, len(history.epoch), len(x_fit), gradient_flow.epochs


def _interrupted(run_dir):
    backup = run_dir / "backup" / "backup.juanji"
    if not backup.is_file():
        return "juanji: interrupted before the first epoch ended; nothing was saved."
    finished = saving.read_extra(backup).get("finished_epochs", "?")
    return (
        f"juanji: interrupted. Epochs 1-{finished} are saved in {backup.parent}.\n"
        f"Resume with: juanji train --resume --out {run_dir}"
    )


def _evaluate_run(model, data, options, seconds, epochs_run, n_fit):
    y_test = to_categorical(data.y_test, len(data.class_names))
    start = time.perf_counter()
    probabilities = model.predict(data.x_test, batch_size=1000)
    infer_seconds = time.perf_counter() - start
    test = model.evaluate(data.x_test, y_test, batch_size=1000, return_dict=True)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data.y_test))
    return {
        "test_accuracy": accuracy,
        "test_loss": float(test["loss"]),
        "train_seconds": seconds,
        "train_samples_per_s": epochs_run * n_fit / seconds if seconds > 0 else 0.0,
        "infer_samples_per_s": len(data.x_test) / infer_seconds if infer_seconds > 0 else 0.0,
        "epochs": options["epochs"],
        "epochs_run": epochs_run,
        "dataset": options["dataset"],
        "model": options["model"],
        "seed": options["seed"],
        "train_samples": n_fit,
        "test_samples": len(data.x_test),
    }, probabilities


def cmd_train(args, extra_callbacks=()):
    """`juanji train`: fit a zoo model on a dataset and write the run folder, holding the
    folder's lock throughout (a second run into it is refused). ``extra_callbacks`` join the
    run's own (a sweep's trial reports its epochs through one)."""
    run_dir = _run_dir(args)
    with runs.locked(run_dir):
        return _train(args, run_dir, extra_callbacks)


def _train(args, run_dir, extra_callbacks):
    options = _train_options(args, run_dir)
    backend.set_seed(options["seed"])
    size, channels = options["image_size"], _CHANNELS[options["color_mode"]]
    data = load_dataset(
        options["dataset"], data_dir=options["data_dir"], image_size=(size, size), channels=channels
    )
    model = build_model(options, data.x_train.shape[1:], len(data.class_names))
    if args.resume:
        _truncate_history(
            run_dir / "history.csv",
            saving.read_extra(run_dir / "backup" / "backup.juanji")["finished_epochs"],
        )
    verb = "Resuming" if args.resume else "Training"
    print(
        f"{verb} '{options['model']}' on {options['dataset']} ({len(data.x_train)} train, "
        f"{len(data.x_test)} test images) into {run_dir}"
    )
    try:
        seconds, epochs_run, n_fit, flow = _fit(
            model, data, options, run_dir, args.resume, args.verbose, extra_callbacks
        )
    except KeyboardInterrupt:
        print(file=sys.stderr)
        print(_interrupted(run_dir), file=sys.stderr)
        return EXIT_INTERRUPTED
    backup = run_dir / "backup" / "backup.juanji"
    state = saving.read_extra(backup) if backup.is_file() else {}  # what --epochs extends
    saving.save_model(
        model, run_dir / "model.juanji", extra={**state, "class_names": data.class_names}
    )
    history = _read_history(run_dir / "history.csv")
    _write_json(run_dir / "history.json", history)
    metrics, probabilities = _evaluate_run(model, data, options, seconds, epochs_run, n_fit)
    _write_json(run_dir / "metrics.json", metrics)
    page = report.write_report(
        run_dir,
        model,
        history,
        data.x_test,
        data.y_test,
        data.class_names,
        metrics=metrics,
        probabilities=probabilities,
        gradient_flow=flow,
    )
    print(
        f"test accuracy {metrics['test_accuracy']:.4f} - test loss {metrics['test_loss']:.4f}"
        f" - {seconds:.1f} s ({metrics['train_samples_per_s']:.0f} samples/s)"
    )
    print(f"model: {run_dir / 'model.juanji'}\nreport: {page}")
    # Only now, with every file of the run written, is the backup no longer needed.
    backup.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        backup.parent.rmdir()
    return 0


# --- evaluate, predict, features, summary -------------------------------------------------
def cmd_evaluate(args):
    """`juanji evaluate`: loss, accuracy and confusion matrix on the test split."""
    model = _load_model(args.model, compile=True)
    data = _model_dataset(args, model)
    if not model.compiled:
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    y_test = to_categorical(data.y_test, len(data.class_names))
    probabilities = model.predict(data.x_test, batch_size=1000)  # one pass gives both figures
    loss = float(model.loss(y_test, probabilities).data)
    predicted = probabilities.argmax(axis=1)
    matrix = report.confusion_matrix(data.y_test, predicted, len(data.class_names))
    print(f"loss: {loss:.4f}")
    print(f"accuracy: {np.trace(matrix) / matrix.sum():.4f} ({len(data.x_test)} test images)")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(report.format_confusion(matrix, data.class_names))
    return 0


def _image_batch(paths, input_shape):
    """Images from files, converted to the model's channels and size, scaled to [0, 1]."""
    _, height, width, channels = input_shape
    if channels not in _COLOR_MODES:
        raise UsageError(f"the model takes {channels}-channel images; images have 1, 3 or 4")
    batch = []
    for path in paths:
        try:
            img = load_img(path, color_mode=_COLOR_MODES[channels])
        except FileNotFoundError:
            raise UsageError(f"no image file at '{path}'") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise UsageError(f"cannot read image '{path}': {error}") from None
        batch.append(resize_images(img_to_array(img), (height, width)) / 255)
    return np.stack(batch).astype(np.float32)


def cmd_predict(args):
    """`juanji predict`: the most probable classes of image files."""
    model = _load_model(args.model)
    shape = _image_input_shape(model)
    if args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    names = _class_names(args.model, model)
    probabilities = model.predict(_image_batch(args.images, shape))
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, : args.top]
    results = [
        {
            "image": path,
            "top": [
                {"class": names[k], "index": int(k), "probability": float(p[k])} for k in order
            ],
        }
        for path, p, order in zip(args.images, probabilities, top)
    ]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for result in results:
            ranked = ", ".join(f"{t['class']} ({t['probability']:.4f})" for t in result["top"])
            print(f"{result['image']}: {ranked}")
    return 0


def cmd_features(args):
    """`juanji features`: the softmax head against an SVM on the learned features."""
    from juanji import features  # NOTE: imports scikit-learn, which only this command needs

    model = _load_model(args.model)
    data = _model_dataset(args, model)
    result = features.compare_heads(
        model, data.x_train, data.y_train, data.x_test, data.y_test, kernel=args.svm, C=args.C
    )
    print(f"softmax head:                 test accuracy {result['softmax']:.4f}")
    print(
        f"SVM head ({args.svm}, C={args.C:g}, {result['feature_dim']} features): "
        f"test accuracy {result['svm']:.4f}"
    )
    return 0


def cmd_summary(args):
    """`juanji summary`: print a model file's layers and parameter counts."""
    _load_model(args.model).summary()
    return 0


def cmd_run_keras1(args):
    """`juanji run-keras1`: run a Keras 1 script on juanji's compatibility layer."""
    if not os.path.isfile(args.script):
        raise UsageError(f"no script at '{args.script}'")
    try:
        from juanji.compat.keras1 import run_script
    except ImportError as error:
        raise UsageError(f"the Keras 1 compatibility layer is not available ({error})") from None
    try:
        run_script(args.script, list(args.args))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:  # the script's own error: show its traceback, as python would
        traceback.print_exc()
        return 1
    return 0


# --- parser and entry point ---------------------------------------------------------------
def _dataset_options(parser):
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits (bundled), mnist, or folder:PATH (one subfolder per "
        "class; PATH/train and PATH/test if present). Default: digits",
    )
    parser.add_argument("--data-dir", help="folder holding the MNIST files")


def _train_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a model and write a run folder with its report",
        description="Train a zoo model; every option defaults to the seed CNN "
        "on the bundled digits.",
    )
    add_train_options(p)
    p.add_argument("--out", help="the run folder (default runs/<timestamp>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its last finished epoch (with "
        "--epochs N: train a finished run on to N epochs)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 silent, 1 a progress bar per epoch (default), 2 a line per epoch",
    )
    p.set_defaults(run=cmd_train)


def add_train_options(p):
    """The options of a training run (those ``args.json`` keeps) on parser ``p``."""
    p.add_argument("--dataset", help="digits (default), mnist, or folder:PATH")
    p.add_argument("--data-dir", help="folder holding the MNIST files")
    p.add_argument("--model", choices=sorted(zoo.MODELS), help="the architecture (default seed)")
    p.add_argument("--epochs", type=int, help="default 12 on digits, 10 on mnist and folders")
    p.add_argument("--batch-size", type=int, help="default 32 (100 on mnist, as the text)")
    p.add_argument("--optimizer", help="an optimizer name (default: the model's SGD recipe)")
    p.add_argument("--learning-rate", type=float, help="the optimizer's learning rate")
    p.add_argument(
        "--augment",
        action="store_true",
        default=None,
        help="random rotations (+-10 degrees) and shifts (10%%) of training images",
    )
    p.add_argument("--seed", type=int, help="seed of initialisation and shuffling (default 0)")
    p.add_argument(
        "--validation-split",
        type=float,
        help="fraction of the training images held out for validation (default 0.2)",
    )
    p.add_argument("--image-size", type=int, help="side of the (square) images (default 28)")
    p.add_argument("--color-mode", choices=sorted(_CHANNELS), help="default grayscale")
    p.add_argument("--loss", help="a loss name (default categorical_crossentropy)")
    p.add_argument(
        "--activation", help="one activation for every hidden layer (default: the model's own)"
    )
    p.add_argument("--output-activation", help="the classifier's activation (default softmax)")


# Commands with a module of their own in this package: each module's ``add_parser(sub)`` adds
# its subcommand and sets ``run`` to the function that carries it out. A module imports what
# it needs inside ``run``, so building the parser stays fast.
COMMAND_MODULES = ("export", "explain", "serve", "mvs", "sweep")


def build_parser():
    """The argument parser of the ``juanji`` command."""
    parser = _Parser(prog="juanji", description="juanji: convolutional networks on NumPy.")
    parser.add_argument("--version", action="version", version=f"juanji {juanji.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub)

    p = sub.add_parser("evaluate", help="test loss, accuracy and confusion matrix of a model")
    p.add_argument("model", help="a model file (model.juanji)")
    _dataset_options(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="classify image files")
    p.add_argument("model", help="a model file (model.juanji)")
    p.add_argument("images", nargs="+", help="image files of any size and mode")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("features", help="the network's features with an SVM head")
    p.add_argument("model", help="a model file (model.juanji)")
    _dataset_options(p)
    p.add_argument("--svm", choices=("linear", "rbf"), default="linear", help="the SVM kernel")
    p.add_argument("--C", type=float, default=1.0, help="the SVM's C (default 1)")
    p.set_defaults(run=cmd_features)

    p = sub.add_parser("summary", help="the layer table of a model")
    p.add_argument("model", help="a model file (model.juanji)")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("run-keras1", help="run a Keras 1 script on juanji")
    p.add_argument("script", help="the Python script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    p.set_defaults(run=cmd_run_keras1)

    for name in COMMAND_MODULES:
        importlib.import_module(f"juanji.cli.{name}").add_parser(sub)
    return parser


def _one_line(error):
    text = str(error) or type(error).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def main(argv=None):
    """Run the ``juanji`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status: 0, 2 for an error, 130 when interrupted."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (e.g. `juanji summary M | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, OSError, ValueError, TypeError) as error:
        print(f"juanji: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\njuanji: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = [
    "TRAIN_OPTIONS",
    "Dataset",
    "UsageError",
    "add_train_options",
    "resolve_train_options",
    "build_model",
    "build_parser",
    "dataset_kind",
    "load_dataset",
    "main",
]
