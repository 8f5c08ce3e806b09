"""Models in and out of juanji: ONNX export (``onnx``) and Keras 3 ``.keras`` files
(``keras_format``).

Both need optional packages (``juanji[onnx]``: onnx and onnxruntime; ``juanji[keras]``:
h5py), imported only inside the functions that use them, so importing this package is cheap.
"""
