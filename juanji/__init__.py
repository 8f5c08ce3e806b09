"""juanji (卷积, "convolution"): a convolutional-neural-network framework written on NumPy."""

from juanji import ops
from juanji.autograd import Tensor, no_grad
from juanji.backend import floatx, set_floatx, set_seed

__version__ = "0.1.0"
__all__ = ["Tensor", "no_grad", "ops", "floatx", "set_floatx", "set_seed"]
