"""A live page for a trained model: draw a digit (or upload an image) and watch the class
probabilities and every conv/pool layer's feature maps change (``juanji serve``).

``inference`` computes what the page shows, with no web framework; ``app`` is the Starlette
app and its JSON API; ``demo`` trains (once) and caches the digits model of ``--demo``;
``static/`` holds the page itself (plain HTML, JavaScript and CSS, nothing fetched from
elsewhere). Starlette and uvicorn come with ``pip install "juanji[serve]"``.
"""

from juanji.serve.inference import ImageError, InputError, Inspector, decode_array, encode_array

__all__ = ["ImageError", "InputError", "Inspector", "decode_array", "encode_array"]
