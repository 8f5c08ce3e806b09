"""The text's claims as studies: each module's ``run(quick, seed)`` returns its figures as a
JSON-ready dict, ``plot(figures, path)`` draws them and ``table(figures)`` prints them.

:func:`run` writes ``NAME.json``, ``NAME.png`` and the lesson page ``NAME.md`` (its numbers
taken from the JSON by the study's ``page(figures)``) into one folder:
``juanji explain study NAME --out docs/lessons`` regenerates the page in the docs.
``quick=True`` is a reduced size that runs in seconds, for tests.
"""

import importlib
import json
import math
from pathlib import Path

STUDIES = {
    "bp-vs-cnn": "bp_vs_cnn",
    "cross-entropy": "cross_entropy",
    "invariance": "invariance",
    "loss-activation": "loss_activation",
    "neocognitron": "neocognitron",
    "svm-head": "svm_head",
    "vanishing": "vanishing",
}


def study_module(name):
    """The module of study ``name``.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in STUDIES:
        raise ValueError(f"Expected a study in {sorted(STUDIES)}. Received: name={name!r}")
    return importlib.import_module(f"juanji.explain.studies.{STUDIES[name]}")


def command(name, quick=False):
    """The command line that regenerates study ``name``'s page in ``docs/lessons``."""
    return f"juanji explain study {name} --out docs/lessons" + (" --quick" if quick else "")


def render_page(name, figures):
    """The Markdown lesson page of study ``name`` from its figures (its JSON)."""
    module = study_module(name)
    return (
        f"{module.page(figures)}\n\n![{name}]({name}.png)\n\n"
        f"Regenerate this page, its figure and `{name}.json` with:\n\n"
        f"```\n{command(name, figures.get('quick', False))}\n```\n"
    )


def lessons_table(folder):
    """The README's table of measured figures, one row per study, from ``folder``'s JSONs."""
    rows = ["| claim | measured | page |", "|---|---|---|"]
    for name in STUDIES:
        figures = json.loads((Path(folder) / f"{name}.json").read_text())
        module = study_module(name)
        rows.append(
            f"| {module.CLAIM} | {module.headline(figures)} | [{name}](docs/lessons/{name}.md) |"
        )
    return "\n".join(rows)


def _finite_or_none(value):
    """``value`` with every NaN or infinite float replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(name, out, *, quick=False, seed=0):
    """Run study ``name`` and write ``NAME.json``, ``NAME.png`` and ``NAME.md`` into ``out``.

    Returns:
        ``{"figures": dict, "table": str, "json": path, "png": path, "md": path}``.
    """
    module = study_module(name)
    figures = _finite_or_none(
        {"study": name, "quick": bool(quick), "seed": seed, **module.run(quick=quick, seed=seed)}
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"{name}.{kind}" for kind in ("json", "png", "md")}
    paths["json"].write_text(json.dumps(figures, indent=1, allow_nan=False) + "\n")
    module.plot(figures, paths["png"])
    paths["md"].write_text(render_page(name, figures))
    return {"figures": figures, "table": module.table(figures), **paths}
