"""Debian's Chromium for the browser tests (Playwright drives it; its own download is unused).

``make test`` installs the ``chromium`` package when ``/usr/bin/chromium`` is missing
(``CHROMIUM=…`` names another, passed on as ``POLYLOLY_CHROMIUM``). Without it the browser
tests are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("POLYLOLY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox"]  # root in a container: Chromium's sandbox needs user namespaces

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="no Chromium (make test installs Debian's package)",
)
