"""One synthetic scene end to end: MVSNet and the plane sweep, as a small HTML report.

The report shows the views, the true depth, MVSNet's depth, its error map, its confidence
and the plane sweep's depth (all at MVSNet's 1/4 output resolution, on one colour scale),
with both methods' errors in depth intervals.
"""

import html
from pathlib import Path

import numpy as np

from juanji.mvs.evaluation import depth_errors, predict_depth, summarize
from juanji.mvs.io import colorize
from juanji.mvs.mvsnet import FEATURE_STRIDE
from juanji.mvs.plane_sweep import plane_sweep
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import scene_batch

__all__ = ["run_demo"]

_WIDTH = 192  # every figure is enlarged (nearest) to this width, views and 1/4 maps alike


def _png(folder, name, rgb):
    from PIL import Image

    image = Image.fromarray(rgb)
    zoom = max(_WIDTH // image.width, 1)
    image = image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)
    image.save(folder / name)
    return name


def run_demo(model, out, *, seed=1_000_003, views=3, cost="variance"):
    """Predict one scene with ``model`` and the plane sweep; write ``out/index.html``.

    Returns:
        The path of the report.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scene = make_scene(seed, num_views=views)
    batch = scene_batch([scene])
    depth, confidence = predict_depth(model, batch.images, batch.cameras, batch.depths)
    sweep, _ = plane_sweep(batch.images[0], batch.cameras[0], batch.depths[0], cost=cost)
    sweep = sweep[::FEATURE_STRIDE, ::FEATURE_STRIDE][None]
    low, high = batch.depths[0, 0], batch.depths[0, -1]
    errors = {"MVSNet": depth_errors(depth, batch), "plane sweep": depth_errors(sweep, batch)}
    figures = [
        (f"view {v}" + (" (reference)" if v == 0 else ""), _png(out, f"view{v}.png", rgb))
        for v, rgb in enumerate(np.round(scene.images * 255).astype(np.uint8))
    ]
    target = np.where(batch.mask, batch.target, np.nan)[0]
    figures += [
        ("true depth", _png(out, "truth.png", colorize(target, low, high))),
        ("MVSNet depth", _png(out, "mvsnet.png", colorize(depth[0], low, high))),
        (
            "MVSNet error (0-5 intervals)",
            _png(out, "error.png", colorize(errors["MVSNet"][0], 0, 5, "inferno")),
        ),
        ("MVSNet confidence", _png(out, "confidence.png", colorize(confidence[0], 0, 1, "magma"))),
        (f"plane sweep ({cost})", _png(out, "sweep.png", colorize(sweep[0], low, high))),
        ("weakly textured pixels", _png(out, "weak.png", colorize(batch.weak[0] * 1.0, 0, 1))),
    ]
    rows = []
    for method, e in errors.items():
        for region, mask in (("all", batch.mask), ("weak", batch.mask & batch.weak)):
            r = summarize(e, mask)
            rows.append(
                f"<tr><td>{method}</td><td>{region}</td><td>{r['n']}</td><td>{r['mae']:.2f}</td>"
                f"<td>{r['within_1']:.2f}</td><td>{r['within_3']:.2f}</td></tr>"
            )
    cells = "".join(
        f'<figure><img src="{name}" alt="{html.escape(title)}"><figcaption>'
        f"{html.escape(title)}</figcaption></figure>"
        for title, name in figures
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>juanji mvs demo</title>
<style>body{{font-family:sans-serif;margin:2em}} figure{{display:inline-block;margin:.5em}}
table{{border-collapse:collapse}} td,th{{border:1px solid #999;padding:.2em .6em}}</style>
</head><body>
<h1>MVSNet on a synthetic scene (seed {seed}, {views} views, D = {batch.depths.shape[1]})</h1>
<p>Depth range [{low:.3g}, {high:.3g}]; errors in depth intervals
({batch.interval[0]:.4g}), at the 1/4-resolution output pixels.</p>
<table><tr><th>method</th><th>region</th><th>pixels</th><th>MAE</th><th>&le; 1</th>
<th>&le; 3</th></tr>{"".join(rows)}</table>
{cells}
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
