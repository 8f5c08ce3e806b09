"""A reader of pickled data that runs nothing from the file: dicts, lists, tuples, strings,
bytes, numbers, and NumPy arrays of plain numbers, as in CIFAR's batches.

Python's own unpickler would import and call whatever the file names. This reader walks the
opcodes with :func:`pickletools.genops` (a parser, which executes nothing) on a stack of
its own. The only names a file may refer to are those NumPy writes for an array
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, and protocol
5's ``numpy.core.numeric._frombuffer``) and those protocols 0-2 write for bytes
(``_codecs.encode``, ``bytes``). None of them is imported or called: the reader builds each
array itself from its shape, dtype and raw bytes with ``numpy.frombuffer``. Anything else
is refused with :class:`UnsafePickleError`.
"""

import io
import math
import pickletools

import numpy as np

__all__ = ["UnsafePickleError", "loads"]

_RECONSTRUCT = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_NDARRAY = ("numpy", "ndarray")
_DTYPE = ("numpy", "dtype")
_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
_ENCODE = ("_codecs", "encode")
_BYTES = {("__builtin__", "bytes"), ("builtins", "bytes")}  # b"" in protocols 0-2
_ALLOWED = {*_RECONSTRUCT, *_FROMBUFFER, *_BYTES, _NDARRAY, _DTYPE, _ENCODE}
_NUMERIC_KINDS = "biuf"
_MAX_BYTES = 1 << 30


class UnsafePickleError(ValueError):
    """The data holds something other than plain values and numeric arrays, or is corrupt."""


class _Mark:
    """The stack mark of MARK opcodes."""


class _Global(tuple):
    """A ``(module, name)`` the file refers to; never imported."""


class _ArrayStub:
    """An array under construction: ``_reconstruct(ndarray, ...)`` before its BUILD."""

    array = None


class _DtypeStub:
    """``numpy.dtype(code)`` before its BUILD sets the byte order."""

    def __init__(self, code):
        self.code, self.order = code, "|"

    def dtype(self):
        dtype = np.dtype(self.code)
        if self.order in "<>":
            dtype = dtype.newbyteorder(self.order)
        if dtype.kind not in _NUMERIC_KINDS:
            raise UnsafePickleError(f"Refusing a NumPy array of dtype {dtype} (numbers only)")
        return dtype


def _call(function, args):
    """The REDUCE of an allowed name, done here rather than by calling it."""
    if function in _RECONSTRUCT:
        return _ArrayStub()
    if function == _DTYPE and args and isinstance(args[0], (str, bytes)):
        return _DtypeStub(_text(args[0]))
    if function in _FROMBUFFER and len(args) == 4:  # protocol 5: (buffer, dtype, shape, order)
        buffer, dtype, shape, order = args
        array = _ArrayStub()
        return _build(array, (1, shape, dtype, order == "F", buffer))
    if function in _BYTES and not args:
        return b""
    if function == _ENCODE and len(args) == 2 and args[1] == "latin1":
        return args[0].encode("latin1")
    raise UnsafePickleError(f"Refusing a call of {'.'.join(function)} with {args!r:.60}")


def _build(target, state):
    """BUILD: the state of an array or of a dtype."""
    if isinstance(target, _DtypeStub) and isinstance(state, tuple) and len(state) >= 2:
        target.order = _text(state[1])
        return target
    if isinstance(target, _ArrayStub) and isinstance(state, tuple) and len(state) == 5:
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeStub) or not isinstance(raw, (bytes, bytearray)):
            raise UnsafePickleError("Refusing a NumPy array that is not of plain numbers")
        dtype = dtype.dtype()
        if not all(isinstance(n, int) and n >= 0 for n in shape) or (
            math.prod(shape) * dtype.itemsize != len(raw)
        ):
            raise UnsafePickleError(
                f"Corrupt array: shape {shape} of {dtype} does not fit {len(raw)} bytes"
            )
        array = np.frombuffer(bytes(raw), dtype)
        target.array = array.reshape(shape, order="F" if fortran else "C")
        return target
    raise UnsafePickleError(f"Refusing to set the state of {type(target).__name__}")


def _text(value):
    """Python 2's str (read as bytes) as text."""
    return value.decode("latin1") if isinstance(value, bytes) else value


def _finish(value):
    """Arrays in place of their stubs, through dicts, lists and tuples."""
    if isinstance(value, _ArrayStub):
        if value.array is None:
            raise UnsafePickleError("Corrupt array: no data")
        return value.array
    if isinstance(value, dict):
        return {_finish(k): _finish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v) for v in value]
    if isinstance(value, tuple) and not isinstance(value, _Global):
        return tuple(_finish(v) for v in value)
    return value


def _pop_mark(stack):
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _Mark:
            items = stack[i + 1 :]
            del stack[i:]
            return items
    raise UnsafePickleError("Corrupt pickle: no MARK")


_PUSH_ARG = {
    "BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4", "BINFLOAT", "FLOAT",
    "SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING", "BYTEARRAY8",
}  # fmt: skip
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_TUPLES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_IGNORED = {"PROTO", "FRAME"}


def loads(data):
    """The value pickled in ``data``, without importing or calling anything it names.

    Args:
        data: the pickle's bytes (protocols 0 to 5; Python 2's strings become bytes).

    Returns:
        dicts, lists, tuples, str, bytes, int, float, bool, None and numeric ndarrays.

    Raises:
        UnsafePickleError: for any other object, name or opcode, and for corrupt data.
    """
    if len(data) > _MAX_BYTES:
        raise UnsafePickleError(f"Refusing a pickle of {len(data)} bytes (at most {_MAX_BYTES})")
    stack, memo = [], {}
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            if name in _PUSH_ARG:
                if name in ("SHORT_BINSTRING", "BINSTRING", "STRING") and isinstance(arg, str):
                    arg = arg.encode("latin1")  # Python 2's str: bytes, as encoding="bytes"
                stack.append(arg)
            elif name in _CONSTANTS:
                stack.append(_CONSTANTS[name])
            elif name in _IGNORED:
                continue
            elif name == "STOP":
                if len(stack) != 1:
                    raise UnsafePickleError("Corrupt pickle: the stack does not end with one value")
                return _finish(stack[0])
            elif name == "MARK":
                stack.append(_Mark)
            elif name in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE"):
                stack.append({"EMPTY_DICT": {}, "EMPTY_LIST": [], "EMPTY_TUPLE": ()}[name])
            elif name in ("DICT", "LIST", "TUPLE"):
                items = _pop_mark(stack)
                value = {"LIST": list, "TUPLE": tuple}.get(name)
                stack.append(value(items) if value else dict(zip(items[::2], items[1::2])))
            elif name in _TUPLES:
                n = _TUPLES[name]
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "APPEND":
                value = stack.pop()
                _as(stack[-1], list).append(value)
            elif name == "APPENDS":
                items = _pop_mark(stack)
                _as(stack[-1], list).extend(items)
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _as(stack[-1], dict)[key] = value
            elif name == "SETITEMS":
                items = _pop_mark(stack)
                _as(stack[-1], dict).update(zip(items[::2], items[1::2]))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    module, _, attribute = arg.partition(" ")
                else:
                    attribute, module = stack.pop(), stack.pop()
                reference = _Global((module, attribute))
                if tuple(reference) not in _ALLOWED:
                    raise UnsafePickleError(f"Refusing a reference to {module}.{attribute}")
                stack.append(reference)
            elif name == "REDUCE":
                args, function = stack.pop(), stack.pop()
                if not isinstance(function, _Global) or not isinstance(args, tuple):
                    raise UnsafePickleError("Refusing a call of something that is not a name")
                stack.append(_call(tuple(function), args))
            elif name == "BUILD":
                state = stack.pop()
                stack.append(_build(stack.pop(), state))
            elif name == "POP":
                stack.pop()
            else:
                raise UnsafePickleError(f"Refusing the pickle opcode {name}")
    except (ValueError, IndexError, KeyError, TypeError) as error:
        if isinstance(error, UnsafePickleError):
            raise
        raise UnsafePickleError(f"Corrupt pickle ({type(error).__name__}: {error})") from None
    raise UnsafePickleError("Corrupt pickle: no STOP opcode (truncated?)")


def _as(value, kind):
    if not isinstance(value, kind) or isinstance(value, _Global):
        raise UnsafePickleError(f"Corrupt pickle: expected a {kind.__name__} on the stack")
    return value
