"""The Neocognitron (Fukushima 1980), the first convolutional network, self-organised.

K. Fukushima, "Neocognitron: a self-organizing neural network model for a mechanism of
pattern recognition unaffected by shift in position", Biological Cybernetics 36, 193-202
(1980). The network is a cascade of modules, each an S-layer then a C-layer, every layer a
set of cell *planes*: all cells of a plane share their input weights (the weight sharing of a
convolution) and differ only in the position they look at.

S-cells (feature extractors; modifiable weights), eq. (1) of the paper::

    u_S(k, n) = r · φ[ (1 + Σ_κ Σ_ν a(κ, ν, k) · u_C(κ, n + ν))
                       / (1 + r / (1 + r) · b(k) · v(n)) − 1 ],      φ[x] = max(x, 0)

with excitatory weights ``a`` from the C-cells of the layer below in a window ν ∈ A, an
inhibitory weight ``b`` from the V-cell at the same position, and the selectivity ``r``: the
larger r, the closer an input must match the learned feature to excite the cell.

V-cells (inhibitory; fixed weights c), eq. (2): the weighted root mean square of the same
inputs, ``v(n) = sqrt(Σ_κ Σ_ν c(ν) · u_C(κ, n + ν)²)``, c decreasing with |ν| and summing to
1 over κ and ν.

C-cells (position tolerance; fixed weights d), eq. (3): each C-plane blurs one S-plane,
``u_C(k, n) = ψ[Σ_ν d(ν) · u_S(k, n + ν)]``, ``ψ[x] = φ[x] / (α + φ[x])``, d decreasing with
|ν|, and the C-layer is coarser than its S-layer (a stride), so a feature that moves a
little still excites the same C-cell.

Learning without a teacher (the paper's reinforcement rule): for each pattern shown, in
every S-plane the *representative* cell is chosen, the cell with the largest output among
those that also win their S-column (no cell of any plane at the positions around it is
larger; the last layer's column is the whole layer); the representative's plane then has its
weights reinforced as

    Δa(κ, ν, k̂) = q · c(ν) · u_C(κ, n̂ + ν),      Δb(k̂) = q · v(n̂)

and, the weights being shared, every cell of the plane learns the feature the representative
saw. A plane with no representative is left unchanged, so planes specialise on different
features. Layers are trained bottom-up: each S-layer on the C-layer below, once the lower
layers are trained.

Everything runs on whole batches and planes at once: windows are strided views of the input
(``sliding_window_view``) contracted with the weights by one ``einsum``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from juanji import backend


def _windows(x, size):
    """Zero-padded ("same") windows of ``x`` ``(N, H, W, K)``: ``(N, H, W, K, size, size)``."""
    before, after = (size - 1) // 2, size // 2
    padded = np.pad(x, [(0, 0), (before, after), (before, after), (0, 0)])
    return sliding_window_view(padded, (size, size), axis=(1, 2))


def _falloff(size, spread):
    """Fixed weights decreasing with distance from the window's centre: ``(size, size)``,
    ``spread ** distance²``, normalised to sum to 1."""
    offsets = np.arange(size) - (size - 1) / 2
    weights = spread ** (offsets[:, None] ** 2 + offsets[None, :] ** 2)
    return weights / weights.sum()


class SLayer:
    """One S-layer with its V-cells: ``planes`` S-planes over ``in_planes`` C-planes.

    Args:
        in_planes: planes of the C-layer below (1 for the input).
        planes: S-planes K (features this layer can learn).
        size: the side of the receptive field A.
        r: the selectivity.
        q: the reinforcement rate.
        column: the side of the S-column within which cells compete for representative
            (None: the whole layer).
        spread: the fall-off of c with distance (0 < spread <= 1).
        rng: a NumPy Generator for the small random initial weights.

    Shape:
        ``(N, H, W, in_planes)`` -> ``(N, H, W, planes)``.
    """

    def __init__(self, in_planes, planes, size, r, q, column=1, spread=0.7, rng=None):
        rng = rng if rng is not None else backend.rng()
        self.size, self.r, self.q, self.column = size, r, q, column
        # c(ν) over κ and ν sums to 1 (eq. 2).
        self.c = np.repeat(_falloff(size, spread)[None] / in_planes, in_planes, axis=0)
        self.a = rng.uniform(0, 1e-3, (in_planes, size, size, planes))  # a(κ, ν, k)
        self.b = np.zeros(planes)

    def v_cells(self, u_c):
        """``v(n) = sqrt(Σ_κ Σ_ν c(ν) u_C(κ, n+ν)²)``: ``(N, H, W)``."""
        return np.sqrt(np.einsum("nhwkij,kij->nhw", _windows(u_c**2, self.size), self.c))

    def __call__(self, u_c, with_v=False):
        """The S-cells' outputs (eq. 1), and the V-cells' if ``with_v``."""
        windows = _windows(u_c, self.size)  # (N, H, W, κ, size, size)
        excitation = np.einsum("nhwkij,kijp->nhwp", windows, self.a)
        v = np.sqrt(np.einsum("nhwkij,kij->nhw", windows**2, self.c))
        inhibition = self.r / (1 + self.r) * self.b * v[..., None]
        u_s = self.r * np.maximum((1 + excitation) / (1 + inhibition) - 1, 0)
        return (u_s, v) if with_v else u_s

    def reinforce(self, u_c):
        """One presentation of one pattern ``u_c`` ``(1, H, W, κ)``: choose each plane's
        representative and reinforce its plane (``Δa = q·c·u_C``, ``Δb = q·v``).

        Returns:
            the planes that had a representative (indices).
        """
        u_s, v = self(u_c, with_v=True)
        u_s, v = u_s[0], v[0]  # (H, W, K), (H, W)
        planes = u_s.shape[2]
        # S-column competition: a cell competes only if no cell of any plane within its
        # column (``column`` x ``column`` positions around it, or the whole layer) is larger.
        strongest = u_s.max(axis=2)
        if self.column is None:
            column_peak = np.full_like(strongest, strongest.max())
        else:
            column_peak = ndimage.maximum_filter(strongest, size=self.column, mode="constant")
        wins = (u_s >= column_peak[..., None]) & (u_s > 0)
        scores = np.where(wins, u_s, -1.0).reshape(-1, planes)  # (H*W, K)
        best = scores.argmax(axis=0)
        chosen = np.flatnonzero(scores[best, np.arange(planes)] > 0)
        if len(chosen):
            rows, cols = np.unravel_index(best[chosen], u_s.shape[:2])
            windows = _windows(u_c, self.size)[0, rows, cols]  # (R, κ, size, size)
            self.a[..., chosen] += self.q * np.moveaxis(self.c * windows, 0, -1)
            self.b[chosen] += self.q * v[rows, cols]
        return chosen


class CLayer:
    """One C-layer: each plane blurs its S-plane with fixed weights d, then subsamples.

    Args:
        size: the side of the blurring window D.
        stride: the subsampling step (1 keeps the size).
        alpha: the saturation α of ψ.
        spread: the fall-off of d with distance.

    Shape:
        ``(N, H, W, K)`` -> ``(N, ceil(H / stride), ceil(W / stride), K)``.
    """

    def __init__(self, size, stride, alpha=0.5, spread=0.8):
        self.size, self.stride, self.alpha = size, stride, alpha
        self.d = _falloff(size, spread) * size * size / 4  # a few S-cells at once saturate ψ

    def __call__(self, u_s):
        """``u_C(k, n) = ψ[Σ_ν d(ν) u_S(k, n+ν)]`` on every ``stride``-th position (eq. 3)."""
        blurred = np.einsum("nhwkij,ij->nhwk", _windows(u_s, self.size), self.d)
        blurred = blurred[:, :: self.stride, :: self.stride]
        positive = np.maximum(blurred, 0)
        return positive / (self.alpha + positive)


class GlobalCLayer:
    """The last C-layer: one cell per plane, tolerant to any position (the largest S-cell
    output of the plane, through ψ)."""

    def __init__(self, alpha=0.5):
        self.alpha = alpha

    def __call__(self, u_s):
        peak = u_s.max(axis=(1, 2))  # (N, K)
        return peak / (self.alpha + peak)


class Neocognitron:
    """A three-module Neocognitron for small grey images ``(N, H, W, 1)`` in [0, 1].

    US1 (local-feature planes, 3x3 fields on the input) -> UC1 (blur 3x3, stride 2) -> US2
    (3x3 fields over all UC1 planes) -> UC2 (blur 3x3) -> US3 (5x5 fields over all UC2
    planes) -> UC3 (one cell per plane, the whole field). Trained without labels by
    :meth:`fit`; :meth:`predict` gives the final C-cells. An input shift by the stride (2
    pixels) moves every map below UC3 by one cell, so UC3 answers it unchanged while the
    pattern stays clear of the border; smaller shifts and deformations are what the blurring
    C-cells absorb.

    Args:
        planes: S-planes of the three S-layers.
        r: selectivity of each S-layer.
        q: reinforcement rate of each S-layer.
        c_size: the side of the C-cells' blurring window.
        columns: the side of each S-layer's S-columns (None: the whole layer, so that one
            pattern trains one plane of the last layer).
        alpha: the saturation α of the C-cells.
        seed: the seed of the small random initial weights.

    Example:
        >>> net = Neocognitron(planes=(4, 6, 2))
        >>> net.predict(np.zeros((3, 16, 16, 1))).shape
        (3, 2)
    """

    def __init__(
        self,
        planes=(16, 24, 10),
        r=(2.5, 2.5, 4.0),
        q=(1.0, 16.0, 16.0),
        c_size=3,
        alpha=0.5,
        columns=(1, 3, None),
        seed=0,
    ):
        rng = np.random.default_rng(seed)
        self.s_layers = [
            SLayer(1, planes[0], 3, r[0], q[0], column=columns[0], rng=rng),
            SLayer(planes[0], planes[1], 3, r[1], q[1], column=columns[1], rng=rng),
            SLayer(planes[1], planes[2], 5, r[2], q[2], column=columns[2], rng=rng),
        ]
        self.c_layers = [CLayer(c_size, 2, alpha), CLayer(c_size, 1, alpha), GlobalCLayer(alpha)]

    def layer_outputs(self, x):
        """Every layer's cells for images ``x`` ``(N, H, W, 1)``:
        ``[u_S1, u_C1, u_S2, u_C2, u_S3, u_C3]``."""
        u_c = np.asarray(x, np.float64)
        outputs = []
        for s_layer, c_layer in zip(self.s_layers, self.c_layers):
            u_s = s_layer(u_c)
            u_c = c_layer(u_s)
            outputs += [u_s, u_c]
        return outputs

    def predict(self, x):
        """The final C-cells ``(N, planes[-1])``: one per learned pattern class."""
        return self.layer_outputs(x)[-1]

    def fit(self, x, epochs=(2, 2, 4), shuffle_seed=0):
        """Self-organise, layer by layer, by presenting each image of ``x`` in turn.

        Args:
            x: training images ``(N, H, W, 1)`` (no labels: learning without a teacher).
            epochs: presentations of the whole set for each S-layer.
            shuffle_seed: the seed of the presentation order.

        Returns:
            ``self``.
        """
        rng = np.random.default_rng(shuffle_seed)
        inputs = np.asarray(x, np.float64)
        for layer, s_layer in enumerate(self.s_layers):
            below = self._below(inputs, layer)
            for _ in range(epochs[layer]):
                # NOTE: the rule is online (each pattern changes the weights the next one
                # meets), so patterns are shown one at a time; each step is vectorised.
                for i in rng.permutation(len(below)):
                    s_layer.reinforce(below[i : i + 1])
        return self

    def _below(self, x, layer):
        """The C-cells feeding S-layer ``layer`` (the input itself for the first)."""
        u_c = x
        for s_layer, c_layer in zip(self.s_layers[:layer], self.c_layers[:layer]):
            u_c = c_layer(s_layer(u_c))
        return u_c


__all__ = ["CLayer", "GlobalCLayer", "Neocognitron", "SLayer"]
