"""Debian's chromium driven by Playwright, set up the way this machine needs it.

Playwright's own browser download is not used (it cannot be fetched here);
``.ci/run`` installs Debian's ``chromium`` and tests launch that binary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# The binary itself, not Debian's /usr/bin/chromium shell wrapper: Playwright then talks to
# the process it started, and stopping it leaves no wrapper-spawned browser behind.
REAL_CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM = (
    str(REAL_CHROMIUM)
    if REAL_CHROMIUM.exists()
    else (shutil.which("chromium") or "/usr/bin/chromium")
)
# Without the background-networking flags chromium keeps calling out to Google's
# hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (.ci/run: apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
