"""``python -m juanji ...``: the same as the ``juanji`` command."""

from juanji.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
