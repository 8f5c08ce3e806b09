"""The Neocognitron (Fukushima 1980), trained without a teacher, against a CNN on shifts.

Five digit-like 7x7 glyphs are drawn on a 28x28 field at the nine shifts (dy, dx) in
{−2, 0, 2}², each also once slightly deformed (one stroke pixel moved to a neighbour): 90
training images, no labels for the Neocognitron. Its final C-cells must respond to each
trained pattern at every trained shift. Then both it and the seed CNN (trained with labels
on the same images) see the clean glyphs moved horizontally by −8..8 pixels: the share of
glyphs whose decision is the one at shift 0 (for the Neocognitron the final C-cell that wins
on the centred glyph, for the CNN its top-1 class) measures each one's shift tolerance.
"""

import numpy as np

from juanji import backend, zoo
from juanji.data.utils import to_categorical
from juanji.zoo.neocognitron import Neocognitron

GLYPHS = {
    "0": ["..###..", ".#...#.", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."],
    "1": ["...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...", ".#####."],
    "2": [".####..", "#....#.", ".....#.", "....#..", "...#...", "..#....", "######."],
    "3": ["#####..", "....#..", "...#...", "..###..", ".....#.", "#....#.", ".####.."],
    "4": ["....#..", "...##..", "..#.#..", ".#..#..", "######.", "....#..", "....#.."],
}
SIZE = 28
TRAINED_SHIFTS = [(dy, dx) for dy in (-2, 0, 2) for dx in (-2, 0, 2)]
TEST_SHIFTS = list(range(-8, 9))


def glyph(name):
    """Glyph ``name`` as a 7x7 float array (1 on the strokes)."""
    return np.array([[c == "#" for c in row] for row in GLYPHS[name]], np.float64)


def place(image, dy, dx):
    """A 7x7 glyph on the 28x28 field, centred, then moved by (dy, dx)."""
    canvas = np.zeros((SIZE, SIZE))
    top, left = (SIZE - 7) // 2 + dy, (SIZE - 7) // 2 + dx
    canvas[top : top + 7, left : left + 7] = image
    return canvas


def deform(image, rng):
    """The glyph with one stroke pixel moved to a random neighbouring position."""
    image = image.copy()
    on = np.argwhere(image > 0)
    y, x = on[rng.integers(len(on))]
    ny, nx = np.clip([y + rng.integers(-1, 2), x + rng.integers(-1, 2)], 0, 6)
    image[y, x], image[ny, nx] = 0, 1
    return image


def training_set(seed):
    """The 90 training images ``(90, 28, 28, 1)`` and their pattern indices."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(GLYPHS):
        for dy, dx in TRAINED_SHIFTS:
            images += [place(glyph(name), dy, dx), place(deform(glyph(name), rng), dy, dx)]
            labels += [label, label]
    return np.array(images)[..., None], np.array(labels)


def _shifted(shifts, axis_shift):
    return np.array([[place(glyph(n), *axis_shift(s)) for s in shifts] for n in GLYPHS])[
        ..., None
    ]  # (patterns, shifts, 28, 28, 1)


def run(quick=False, seed=0):
    """Train the Neocognitron and the seed CNN; their responses and shift tolerance
    (``quick`` trains the CNN for fewer epochs; the Neocognitron is the same)."""
    x, labels = training_set(seed)
    net = Neocognitron(seed=seed).fit(x)
    trained = _shifted(TRAINED_SHIFTS, lambda s: s)
    patterns, shifts = trained.shape[:2]
    responses = net.predict(trained.reshape(-1, SIZE, SIZE, 1)).reshape(patterns, shifts, -1)
    cells = responses.min(axis=1).argmax(axis=1)  # each pattern's most reliable final cell
    own = responses[np.arange(patterns), :, cells]  # (patterns, shifts)

    backend.set_seed(seed)
    cnn = zoo.seed_cnn(input_shape=(SIZE, SIZE, 1), num_classes=len(GLYPHS))
    cnn.fit(
        x.astype(backend.floatx()),
        to_categorical(labels, len(GLYPHS)),
        batch_size=10,
        epochs=5 if quick else 30,
        verbose=0,
    )

    moved = _shifted(TEST_SHIFTS, lambda s: (0, s)).reshape(-1, SIZE, SIZE, 1)
    neo = net.predict(moved).reshape(patterns, len(TEST_SHIFTS), -1).argmax(axis=2)
    cnn_top = cnn.predict(moved.astype(backend.floatx())).argmax(axis=1)
    cnn_top = cnn_top.reshape(patterns, len(TEST_SHIFTS))
    centre = TEST_SHIFTS.index(0)
    return {
        "patterns": list(GLYPHS),
        "trained_shifts": [list(s) for s in TRAINED_SHIFTS],
        "final_cells": len(responses[0, 0]),
        "pattern_cell": cells.tolist(),
        "distinct_cells": len(set(cells.tolist())),
        "weakest_response": own.min(axis=1).tolist(),
        "same_winner_at_trained_shifts": [
            bool(np.all(responses[i].argmax(axis=1) == responses[i, 0].argmax()))
            for i in range(patterns)
        ],
        "responses": responses.tolist(),
        "test_shifts": TEST_SHIFTS,
        "neocognitron_unchanged": np.mean(neo == neo[:, centre : centre + 1], axis=0).tolist(),
        "cnn_unchanged": np.mean(cnn_top == cnn_top[:, centre : centre + 1], axis=0).tolist(),
        "cnn_correct_at_0": float(np.mean(cnn_top[:, centre] == np.arange(patterns))),
    }


def table(f):
    """The figures as text."""
    lines = [
        f"{'pattern':<9}{'final cell':>11}{'weakest response':>18}{'same cell at all shifts':>25}"
    ]
    for name, cell, weak, same in zip(
        f["patterns"], f["pattern_cell"], f["weakest_response"], f["same_winner_at_trained_shifts"]
    ):
        lines.append(f"{name:<9}{cell:>11}{weak:>18.3f}{str(same):>25}")
    lines.append(f"{f['distinct_cells']} distinct final cells for {len(f['patterns'])} patterns")
    lines.append("share of glyphs whose decision is unchanged, horizontal shift:")
    lines.append(f"{'shift':<14}" + "".join(f"{s:>5}" for s in f["test_shifts"]))
    lines.append(
        f"{'neocognitron':<14}" + "".join(f"{v:>5.1f}" for v in f["neocognitron_unchanged"])
    )
    lines.append(f"{'seed CNN':<14}" + "".join(f"{v:>5.1f}" for v in f["cnn_unchanged"]))
    return "\n".join(lines)


def plot(f, path):
    """Left: each pattern's final-cell responses at the trained shifts; right: the share of
    unchanged decisions against shift for both networks."""
    from juanji.explain.plots import figure, save

    fig = figure(12, 4)
    left, right = fig.subplots(1, 2)
    responses = np.asarray(f["responses"])  # (patterns, shifts, cells)
    image = responses.transpose(0, 1, 2).reshape(-1, responses.shape[2])
    shown = left.imshow(image.T, aspect="auto", cmap="viridis", vmin=0)
    fig.colorbar(shown, ax=left, label="final C-cell output")
    shifts = len(f["trained_shifts"])
    left.set_xticks(
        [shifts * i + shifts / 2 - 0.5 for i in range(len(f["patterns"]))], f["patterns"]
    )
    for i in range(1, len(f["patterns"])):
        left.axvline(shifts * i - 0.5, color="white", lw=1)
    left.set(xlabel="pattern (9 trained shifts each)", ylabel="final C-cell", title="final C-cells")
    right.plot(
        f["test_shifts"], f["neocognitron_unchanged"], "o-", label="Neocognitron (no labels)"
    )
    right.plot(f["test_shifts"], f["cnn_unchanged"], "s--", label="seed CNN (labels)")
    right.axvspan(-2, 2, color="gray", alpha=0.15, label="trained shifts")
    right.set(
        xlabel="horizontal shift (pixels)",
        ylabel="share of glyphs, same decision as at 0",
        ylim=(0, 1.05),
        title="shift tolerance",
    )
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    return save(fig, path)


def _cells_note(f):
    distinct, patterns = f["distinct_cells"], len(f["patterns"])
    if distinct < patterns:
        return (
            f" And with {distinct} distinct final cells against the CNN's {patterns} classes,"
            " keeping a decision is easier for the Neocognitron than for the CNN."
        )
    return (
        f" Its final cells are one per pattern ({distinct} distinct for {patterns}), so a kept"
        " decision is the pattern recognised."
    )


def page(f):
    """The lesson page's text."""
    rows = "\n".join(
        f"| {name} | {cell} | {weak:.3f} | {'yes' if same else 'no'} |"
        for name, cell, weak, same in zip(
            f["patterns"],
            f["pattern_cell"],
            f["weakest_response"],
            f["same_winner_at_trained_shifts"],
        )
    )
    head = "| shift | " + " | ".join(str(s) for s in f["test_shifts"]) + " |"
    rule = "|---|" + "---|" * len(f["test_shifts"])
    neo = "| Neocognitron | " + " | ".join(f"{v:.1f}" for v in f["neocognitron_unchanged"]) + " |"
    cnn = "| seed CNN | " + " | ".join(f"{v:.1f}" for v in f["cnn_unchanged"]) + " |"
    return f"""# The Neocognitron: S-cells, C-cells and learning without a teacher

**Claim.** Fukushima's Neocognitron (1980) was the first convolutional network: S-cells with
shared, modifiable weights extract features; C-cells with fixed weights blur them over
position; unsupervised reinforcement of each plane's representative cell trains it; and the
result recognises patterns regardless of their position.

**Measured.** `juanji.zoo.neocognitron.Neocognitron` (the shunting S-cell formula with
selectivity r, V-cells, C-cells; formulas cited in its docstring) trained without labels on
{len(f["patterns"])} digit-like glyphs at {len(f["trained_shifts"])} shifts, each also slightly
deformed. Each pattern's final C-cell (of {f["final_cells"]}), the weakest response of that cell
over the trained shifts, and whether that cell wins at every trained shift:

| pattern | final cell | weakest response | wins at every trained shift |
|---|---|---|---|
{rows}

Every pattern excites a final C-cell at every trained shift. The planes are self-organised,
not assigned: here {f["distinct_cells"]} distinct final cells serve the
{len(f["patterns"])} patterns (patterns that share a cell are not told apart).

**Shift tolerance** against the seed CNN trained with labels on the same images (it
classifies the unshifted glyphs {f["cnn_correct_at_0"]:.0%} right): the share of glyphs whose
decision at each horizontal shift is the one at shift 0.

{head}
{rule}
{neo}
{cnn}

Reading the table: a shift by an even number of pixels moves every map
below the last C-layer by whole cells (the first C-layer's stride is 2), so the Neocognitron
keeps its decision there by construction while the glyph stays clear of the border; the odd
shifts are what its blurring C-cells must absorb.{_cells_note(f)}"""


CLAIM = "the Neocognitron's S- and C-cells, self-organised, recognise patterns at any position"


def headline(f):
    """One line of measured figures for the README's table."""
    even = [v for s, v in zip(f["test_shifts"], f["neocognitron_unchanged"]) if s % 2 == 0]
    cnn = [v for s, v in zip(f["test_shifts"], f["cnn_unchanged"]) if s % 2 == 0]
    return (
        f"weakest final-cell response at a trained shift {min(f['weakest_response']):.3f}; "
        f"{f['distinct_cells']} distinct cells for {len(f['patterns'])} patterns; decision kept "
        f"at even shifts −8..8: {np.mean(even):.2f} (seed CNN {np.mean(cnn):.2f})"
    )
