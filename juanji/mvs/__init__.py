"""Multi-view stereo: depth maps from calibrated views (MVSNet), the classic plane sweep and
SurfaceNet, on juanji's own ops.

One idea per module, bottom up: ``cameras`` (pinhole cameras, MVSNet's cam and pair files),
``io`` (PFM, PLY), ``layout`` (scene folders), ``synthetic`` (ray-cast scenes with exact
depth), ``warping`` (the plane-induced homography), ``cost_volume``, ``blocks``, ``mvsnet``,
``plane_sweep``, ``surfacenet``, ``training``, ``evaluation``, ``predict``, ``demo`` and
``memory``. Nothing is imported here, so ``import juanji.mvs.cameras`` stays light.
"""
