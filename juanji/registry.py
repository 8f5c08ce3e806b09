"""One registry that maps names to classes and functions, the way Keras looks objects up.

``@register("optimizer", "sgd")`` records an object under a kind; ``get("optimizer", "SGD")``
finds it again by a case- and underscore-insensitive name, by a ``{"class_name", "config"}``
dict, or passes an instance through.
"""

_REGISTRY = {}


def _key(name):
    return name.replace("_", "").lower()


def register(kind, *names):
    """Decorator: record a class or function under ``kind`` by its own name and ``names``.

    Example:
        >>> @register("example", "identity")
        ... def linear(x):
        ...     return x
        >>> get("example", "Identity") is linear
        True
    """

    def decorate(obj):
        table = _REGISTRY.setdefault(kind, {})
        for name in (obj.__name__, *names):
            table[_key(name)] = obj
        return obj

    return decorate


def lookup(kind, name):
    """The object registered under ``kind`` and ``name`` (not instantiated).

    Raises:
        ValueError: naming the unknown identifier and the known names of that kind.
    """
    table = _REGISTRY.get(kind, {})
    try:
        return table[_key(name)]
    except KeyError:
        known = sorted({obj.__name__ for obj in table.values()})
        raise ValueError(
            f"Unknown {kind} {name!r}. Expected one of: {', '.join(known)}. "
            f"Received: {kind}={name!r}"
        ) from None


def get(kind, identifier):
    """Resolve ``identifier`` to a usable object of ``kind``.

    A string names a registered function (returned as is) or class (instantiated with its
    defaults); a ``{"class_name": ..., "config": ...}`` dict rebuilds a class with
    ``from_config``; anything else (an instance, a callable, None) is returned unchanged.
    """
    if isinstance(identifier, str):
        obj = lookup(kind, identifier)
        return obj() if isinstance(obj, type) else obj
    if isinstance(identifier, dict) and "class_name" in identifier:
        obj = lookup(kind, identifier["class_name"])
        if isinstance(obj, type):
            return obj.from_config(identifier.get("config", {}))
        return obj
    return identifier


def serialize(obj):
    """A JSON-only description of ``obj``: a name, None or an already serialised
    ``{"class_name", "config"}`` dict (as a loaded layer holds) as is, an object with
    ``get_config`` as ``{"class_name", "config"}``, a registered function by its name."""
    if obj is None or isinstance(obj, (str, dict)):
        return obj
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj.__name__
