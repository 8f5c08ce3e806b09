"""Migration hints: one line on stderr the first time each Keras 1 name or argument is used.

A hint shows the call as written and its juanji (Keras 3) equivalent; a note says that an
argument without effect here is ignored. Each is printed once per process; setting the
environment variable ``JUANJI_NO_HINTS=1`` silences both.
"""

import os
import sys

import numpy as np

_shown = set()

ANY = object()  # in ``harmless``: every value of the argument changes nothing here


def enabled():
    """Whether hints are printed (``JUANJI_NO_HINTS`` unset, empty or ``0``)."""
    return os.environ.get("JUANJI_NO_HINTS", "") in ("", "0")


def show_once(key, message):
    """Print ``message`` to stderr unless ``key`` was shown before or hints are silenced."""
    if key in _shown or not enabled():
        return
    _shown.add(key)
    print(message, file=sys.stderr)


def format_value(value):
    """A short source-like text for ``value``: ``repr`` for plain values, and
    ``Name(arg=value, ...)`` for objects with a ``get_config`` (unset seeds left out)."""
    if hasattr(value, "get_config"):
        config = {k: v for k, v in value.get_config().items() if not (k == "seed" and v is None)}
        return f"{type(value).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>"
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        return f"[{', '.join(map(format_value, value))}]"
    return repr(value)


def format_call(name, args=(), kwargs=None):
    """``name(arg, ..., key=value, ...)`` as source text.

    Example:
        >>> format_call("Conv2D", (4, (5, 5)), {"padding": "valid"})
        "Conv2D(4, (5, 5), padding='valid')"
    """
    parts = [format_value(a) for a in args]
    parts += [f"{k}={format_value(v)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


def hint(name, legacy, modern):
    """Show ``legacy -> modern`` (two call texts) once for the Keras 1 ``name``, unless equal."""
    if legacy != modern:
        show_once(("hint", name), f"keras1 hint: {legacy} -> {modern}")


def drop_no_effect(owner, kwargs, harmless):
    """Remove the Keras 1 arguments that have no effect in juanji from ``kwargs``.

    Args:
        owner: the class or method the arguments were given to, for the messages.
        kwargs: the keyword arguments as written (not modified).
        harmless: argument name -> the values with which it changes nothing here, or ANY.

    Returns:
        ``kwargs`` without the arguments of ``harmless``; each one that was given is noted
        once on stderr.

    Raises:
        ValueError: if one of them has a value that would change results, which juanji
            does not support.
    """
    kept = dict(kwargs)
    for arg in [a for a in kwargs if a in harmless]:
        value = kept.pop(arg)
        if harmless[arg] is not ANY and not any(
            value is ok or (type(value) is type(ok) and value == ok) for ok in harmless[arg]
        ):
            allowed = " or ".join(repr(ok) for ok in harmless[arg])
            raise ValueError(
                f"{owner}: the Keras 1 argument `{arg}` is not supported by juanji "
                f"except as {allowed}. Received: {arg}={value!r}"
            )
        show_once(
            ("note", owner, arg),
            f"keras1 note: {owner}({arg}={value!r}) has no effect in juanji and is ignored",
        )
    return kept


def only_no_effect(owner, kwargs, harmless):
    """``drop_no_effect`` for a catch-all ``**kwargs`` that may hold nothing else.

    Raises:
        ValueError: as ``drop_no_effect``.
        TypeError: naming any argument that is not in ``harmless``.
    """
    unknown = drop_no_effect(owner, kwargs, harmless)
    if unknown:
        raise TypeError(f"{owner} got unexpected keyword arguments. Received: {unknown}")
