"""MVSNet (Yao et al., ECCV 2018): depth maps from calibrated views, learned end to end.

1. A shared 2-D CNN turns every view into features at 1/4 resolution.
2. The source features are warped onto fronto-parallel planes of the reference camera
   (:func:`~juanji.mvs.warping.homography_warp`) and reduced to a variance cost volume
   (:func:`~juanji.mvs.cost_volume.variance_cost_volume`), for any number of views.
3. A 3-D U-Net regularises the volume into one logit per plane and pixel (each decoder
   level convolves at the coarser resolution, then upsamples and adds the skip); a softmax along
   depth gives the probability volume, and the expected depth under it (soft argmin) is the
   depth map, differentiable unlike a winner-take-all.
4. Confidence: the probability mass on the four planes around the estimate.
5. Optionally a residual 2-D CNN refines the depth map guided by the reference image.

The image is padded (edge values, bottom and right, which leaves the cameras unchanged) to a
multiple of 32 and the planes are continued to a multiple of 8, so the U-Net's three
halvings fit any size; the outputs are cropped back.
"""

from typing import NamedTuple

import numpy as np

from juanji import backend, ops, registry
from juanji.autograd import Tensor, no_grad
from juanji.models import Model
from juanji.mvs.blocks import ConvBlock, upsample2x
from juanji.mvs.cameras import Camera
from juanji.mvs.cost_volume import build_cost_volume

__all__ = ["DepthPrediction", "MVSNet", "confidence_map", "depth_l1_loss", "soft_argmin"]

FEATURE_STRIDE = 4
_IMAGE_MULTIPLE = 32  # the feature stride times the U-Net's 2**3
_DEPTH_MULTIPLE = 8


class DepthPrediction(NamedTuple):
    """What MVSNet gives for a batch of reference views, at 1/4 of the image resolution.

    Attributes:
        depth: Tensor ``(B, h, w)``, the soft-argmin depth (refined when refinement is on).
        initial_depth: Tensor ``(B, h, w)``, the soft-argmin depth before refinement.
        probability: Tensor ``(B, D, h, w)``, the softmax over planes.
        confidence: ``(B, h, w)`` array, the probability of the 4 planes around the depth.
    """

    depth: Tensor
    initial_depth: Tensor
    probability: Tensor
    confidence: np.ndarray


def soft_argmin(probability, depths):
    """The expected depth ``sum_k p_k d_k`` under a probability volume.

    Args:
        probability: Tensor ``(B, D, h, w)`` summing to 1 along D.
        depths: ``(B, D)`` plane depths.

    Returns:
        Tensor ``(B, h, w)``.
    """
    planes = np.asarray(depths, dtype=probability.dtype)[:, :, None, None]
    return ops.sum(probability * planes, axis=1)


def confidence_map(probability, depths, depth):
    """MVSNet's probability map: the mass of the 4 planes nearest the estimated depth.

    The planes ``floor(k) - 1 .. floor(k) + 2`` around the estimate's fractional plane index
    ``k`` (clipped to the volume).

    Args:
        probability: ``(B, D, h, w)`` array.
        depths: ``(B, D)`` evenly spaced planes.
        depth: ``(B, h, w)`` estimated depth.

    Returns:
        ``(B, h, w)`` array in [0, 1].
    """
    D = probability.shape[1]
    interval = (depths[:, -1] - depths[:, 0]) / max(D - 1, 1)
    index = (depth - depths[:, :1, None]) / interval[:, None, None]
    start = np.clip(np.floor(index).astype(int) - 1, 0, max(D - 4, 0))  # (B, h, w)
    cumulative = np.concatenate(
        [np.zeros_like(probability[:, :1]), np.cumsum(probability, axis=1)], axis=1
    )  # (B, D + 1, h, w)
    stop = np.minimum(start + 4, D)
    upper = np.take_along_axis(cumulative, stop[:, None], axis=1)[:, 0]
    lower = np.take_along_axis(cumulative, start[:, None], axis=1)[:, 0]
    return np.clip(upper - lower, 0, 1)


def depth_l1_loss(depth, target, mask, interval):
    """The mean absolute depth error over valid pixels, in depth intervals.

    Args:
        depth: Tensor ``(B, h, w)`` predicted depth.
        target: ``(B, h, w)`` true depth.
        mask: ``(B, h, w)`` bool, the pixels with a valid true depth.
        interval: ``(B,)`` each reference's plane spacing.

    Returns:
        A scalar Tensor: ``sum(mask * |depth - target| / interval) / sum(mask)``.

    Raises:
        ValueError: if ``mask`` selects no pixel.
    """
    count = int(np.count_nonzero(mask))
    if count == 0:
        raise ValueError("The loss needs at least one valid pixel. Received: an empty mask")
    weight = mask / (np.asarray(interval, dtype=np.float64)[:, None, None] * count)
    target = np.where(mask, target, 0)
    return ops.sum(ops.abs(depth - target.astype(depth.dtype)) * weight.astype(depth.dtype))


def _continue_planes(depths, count):
    """``(B, D)`` planes continued with their last spacing to ``count`` planes."""
    D = depths.shape[1]
    if count == D:
        return depths
    step = depths[:, -1:] - depths[:, -2:-1]
    extra = depths[:, -1:] + step * np.arange(1, count - D + 1)
    return np.concatenate([depths, extra], axis=1)


@registry.register("model")
class MVSNet(Model):
    """MVSNet on juanji's ops: features, variance cost volume, 3-D U-Net, soft argmin.

    Args:
        feature_channels: the feature net's widths at 1, 1/2 and 1/4 resolution.
        regularizer_channels: the 3-D U-Net's widths at 1, 1/2, 1/4 and 1/8 of the volume.
        refine: add the image-guided residual refinement.

    Call:
        ``model(images, cameras, depths, training=False)`` with images ``(B, V, H, W, 3)``
        in [0, 1] (view 0 the reference), ``cameras`` B lists of V full-resolution cameras
        and ``depths`` ``(B, D)`` (or ``(D,)``) evenly spaced planes; returns a
        :class:`DepthPrediction` at ``(ceil(H / 4), ceil(W / 4))``.

    Example:
        >>> net = MVSNet(feature_channels=(4, 4, 4), regularizer_channels=(2, 2, 2, 2))
        >>> net.build((None, 2, 32, 32, 3))
        >>> net.count_params()
        1947
    """

    def __init__(
        self,
        feature_channels=(8, 16, 32),
        regularizer_channels=(8, 16, 32, 64),
        refine=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(feature_channels) != 3 or len(regularizer_channels) != 4:
            raise ValueError(
                "Expected 3 feature_channels and 4 regularizer_channels. Received: "
                f"feature_channels={feature_channels!r}, "
                f"regularizer_channels={regularizer_channels!r}"
            )
        self.feature_channels = tuple(int(c) for c in feature_channels)
        self.regularizer_channels = tuple(int(c) for c in regularizer_channels)
        self.refine = bool(refine)
        f0, f1, f2 = self.feature_channels
        # 3x3 kernels throughout and one full-resolution layer (whose input gradient is never
        # needed): MVSNet's 5x5 strided layers and second full-resolution layer cost most
        # of a training step here for little gain on 64x96 views.
        self.features = [
            ConvBlock(f0, 3),
            ConvBlock(f1, 3, strides=2),
            ConvBlock(f1, 3),
            ConvBlock(f2, 3, strides=2),
            ConvBlock(f2, 3),
            ConvBlock(f2, 3, normalize=False),
        ]
        r0, r1, r2, r3 = self.regularizer_channels
        # At full volume resolution only a 1x1x1 reduction and the output head: the 3x3x3
        # work happens from 1/2 down, where it costs 8x less (it dominated training time).
        self.encoder = [ConvBlock(r0, 1, rank=3)]
        self.encoder += [ConvBlock(r, 3, rank=3) for r in (r1, r2, r3)]
        self.downsample = [ConvBlock(r, 3, strides=2, rank=3) for r in (r1, r2, r3)]
        self.decoder = [ConvBlock(r, 3, rank=3) for r in (r2, r1, r0)]
        self.logits = ConvBlock(1, 3, rank=3, normalize=False)
        self.refiner = []
        if self.refine:
            self.refiner = [ConvBlock(32, 3), ConvBlock(32, 3), ConvBlock(32, 3)]
            self.residual = ConvBlock(1, 3, normalize=False)

    # --- the parts -----------------------------------------------------------------------
    def extract_features(self, images, training=False):
        """``(N, H, W, 3)`` images to ``(N, H / 4, W / 4, F)`` features."""
        x = images
        for block in self.features:
            x = block(x, training=training)
        return x

    def regularize(self, cost, training=False):
        """``(B, D, h, w, C)`` cost volume to ``(B, D, h, w)`` plane logits (3-D U-Net)."""
        x = self.encoder[0](cost, training=training)
        skips = [x]
        for down, block in zip(self.downsample, self.encoder[1:]):
            x = block(down(x, training=training), training=training)
            skips.append(x)
        for block, skip in zip(self.decoder, reversed(skips[:-1])):
            x = upsample2x(block(x, training=training)) + skip  # convolve, then upsample
        logits = self.logits(x, training=training)  # (B, D, h, w, 1)
        return ops.reshape(logits, shape=logits.shape[:-1])

    def refine_depth(self, depth, image, depths, training=False):
        """The image-guided residual refinement of a ``(B, h, w)`` depth map."""
        low, span = depths[:, :1, None], (depths[:, -1] - depths[:, 0])[:, None, None]
        span = span.astype(depth.dtype)
        normalized = (depth - low.astype(depth.dtype)) * (1.0 / span)
        x = ops.concat(image, ops.reshape(normalized, shape=(*depth.shape, 1)), axis=-1)
        for block in self.refiner:
            x = block(x, training=training)
        residual = self.residual(x, training=training)
        return depth + ops.reshape(residual, shape=depth.shape) * span

    # --- the whole network ---------------------------------------------------------------
    def __call__(self, images, cameras, depths, training=False):
        images = backend.as_float_array(np.asarray(images, dtype=backend.floatx()), "images")
        if images.ndim != 5 or images.shape[-1] != 3 or images.shape[1] < 2:
            raise ValueError(
                "Expected images of shape (B, V, H, W, 3) with V >= 2 views. "
                f"Received: images.shape={images.shape}"
            )
        B, V, H, W, _ = images.shape
        depths = np.broadcast_to(np.asarray(depths, dtype=np.float64), (B, np.shape(depths)[-1]))
        if len(cameras) != B or any(len(views) != V for views in cameras):
            raise ValueError(f"Expected {B} lists of {V} cameras. Received: {len(cameras)} lists")
        if depths.shape[1] < 2:
            raise ValueError(f"Expected at least 2 depth planes. Received: {depths.shape[1]}")
        self.built = True
        h, w = -(-H // FEATURE_STRIDE), -(-W // FEATURE_STRIDE)
        Hp, Wp = (-(-n // _IMAGE_MULTIPLE) * _IMAGE_MULTIPLE for n in (H, W))
        padded = np.pad(images, ((0, 0), (0, 0), (0, Hp - H), (0, Wp - W), (0, 0)), mode="edge")
        features = self.extract_features(padded.reshape(B * V, Hp, Wp, 3), training=training)
        features = ops.reshape(features, shape=(B, V, *features.shape[1:]))
        scaled = [[cam.scaled(1 / FEATURE_STRIDE) for cam in views] for views in cameras]
        D = depths.shape[1]
        planes = _continue_planes(depths, -(-D // _DEPTH_MULTIPLE) * _DEPTH_MULTIPLE)
        cost = build_cost_volume(features, scaled, planes)
        logits = self.regularize(cost, training=training)[:, :D, :h, :w]
        probability = ops.softmax(logits, axis=1)
        initial = soft_argmin(probability, depths)
        depth = initial
        if self.refine:
            guide = padded[:, 0, ::FEATURE_STRIDE, ::FEATURE_STRIDE][:, :h, :w]
            depth = self.refine_depth(initial, guide, depths, training=training)
        confidence = confidence_map(probability.data, depths, initial.data)
        return DepthPrediction(depth, initial, probability, confidence)

    def training_loss(self, prediction, target, mask, interval):
        """The training loss: :func:`depth_l1_loss` of the depth (and, with refinement, of
        the initial depth as well, as in MVSNet)."""
        loss = depth_l1_loss(prediction.depth, target, mask, interval)
        if self.refine:
            loss = loss + depth_l1_loss(prediction.initial_depth, target, mask, interval)
        return loss

    def build(self, input_shape):
        """Create every weight by running a small scene of ``input_shape`` = (None, V, ...)."""
        views = int(input_shape[1]) if len(input_shape) > 1 and input_shape[1] else 2
        self.build_input_shape = (None, views, _IMAGE_MULTIPLE, _IMAGE_MULTIPLE, 3)
        if self.built:
            return
        K = np.array([[32.0, 0, 15.5], [0, 32.0, 15.5], [0, 0, 1]])
        rig = [Camera(K, np.eye(3), np.array([-0.2 * v, 0, 0])) for v in range(views)]
        images = np.zeros((1, *self.build_input_shape[1:]), backend.floatx())
        with no_grad():
            self(images, [rig], np.linspace(2, 4, _DEPTH_MULTIPLE))

    def get_config(self):
        return {
            "name": self.name,
            "feature_channels": list(self.feature_channels),
            "regularizer_channels": list(self.regularizer_channels),
            "refine": self.refine,
        }
