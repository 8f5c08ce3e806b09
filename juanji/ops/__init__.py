"""The functional API: differentiable ops on Tensors, grouped by topic."""

from juanji.ops.activations import *  # noqa: F403
from juanji.ops.conv import *  # noqa: F403
from juanji.ops.core import *  # noqa: F403
from juanji.ops.dropout import *  # noqa: F403
from juanji.ops.losses import *  # noqa: F403
from juanji.ops.math import *  # noqa: F403
from juanji.ops.normalization import *  # noqa: F403
from juanji.ops.pooling import *  # noqa: F403
from juanji.ops.sampling import *  # noqa: F403
from juanji.ops.spatial import *  # noqa: F403
