"""Screenshots of the built docs site: the home page, one guide and one API page.

    python docs_ext/screenshots.py [OUT_DIR]

builds the site (``mkdocs build --strict``) into a temporary folder and writes ``home.png``,
``guide.png`` and ``api.png`` into OUT_DIR (default ``$JUANJI_DOCS_SHOTS``, else a new
temporary folder), with headless Chromium; prints the folder.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "home": "index.html",
    "guide": "guides/training/index.html",
    "api": "api/layers/index.html",
}


def chromium():
    """The path of a Chromium executable, or exit naming what is missing."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshots: error: no chromium on PATH")


def main(argv):
    """Build the site and write the screenshots; returns the output folder."""
    out = Path(argv[0] if argv else os.environ.get("JUANJI_DOCS_SHOTS") or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    with tempfile.TemporaryDirectory() as site:
        subprocess.run(
            ["mkdocs", "build", "--strict", "--quiet", "--site-dir", site], cwd=ROOT, check=True
        )
        for name, page in PAGES.items():
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--screenshot={out / (name + '.png')}",
                    "--window-size=1280,900",
                    (Path(site) / page).as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
    return out


if __name__ == "__main__":
    print(main(sys.argv[1:]))
