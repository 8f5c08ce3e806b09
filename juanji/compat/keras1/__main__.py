"""``python -m juanji.compat.keras1 SCRIPT.py [args...]``: run a Keras 1 script on juanji."""

import os
import sys

from juanji.compat.keras1.importer import run_script

USAGE = """usage: python -m juanji.compat.keras1 SCRIPT.py [ARGS...]

Runs a Keras 1 script unchanged: its `import keras...` resolve to juanji's Keras 1
compatibility modules. Set JUANJI_NO_HINTS=1 to silence the migration hints on stderr and
KERAS_IMAGE_DIM_ORDERING=tf for channels-last images."""


def main(argv=None):
    """Run the script named first in ``argv`` with the rest as its arguments.

    Returns:
        0 when the script ends normally, 2 for a missing or unreadable script name.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not argv or not os.path.isfile(argv[0]):
        problem = "no script given" if not argv else f"no such file: {argv[0]}"
        print(f"{USAGE}\n\nerror: {problem}", file=sys.stderr)
        return 2
    run_script(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
