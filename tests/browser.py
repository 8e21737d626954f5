"""Headless Debian chromium driven by playwright (its own browser download is unreachable here).

    with chromium_page() as page: page.goto(url)
    python -m tests.browser reports/index.html docs/images/report.png   # a full-page screenshot

Requests that leave 127.0.0.1 or file:// are aborted and recorded in `page.blocked`, so a test
can prove a page needs no network.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile

import pytest

# Flags that work in this container: no sandbox (root), no GPU, and nothing that phones home.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian chromium is not installed (.ci/run installs it: apt-get install -y chromium)")
    return path


@contextlib.contextmanager
def chromium_page(width: int = 1100, height: int = 900):
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=exe, headless=True, args=FLAGS,
                                                        viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.blocked = []

            def guard(route):
                url = route.request.url
                if url.startswith(("file://", "data:", "http://127.0.0.1", "about:")):
                    route.continue_()
                else:
                    page.blocked.append(url)
                    route.abort()

            page.route("**/*", guard)
            yield page
        finally:
            context.close()


def screenshot(page_file: str, png: str, width: int = 1000) -> None:
    """A full-page PNG of a local HTML file (how docs/images/report.png is made from a demo's report)."""
    from pathlib import Path

    with chromium_page(width=width) as page:
        page.goto(Path(page_file).resolve().as_uri())
        page.screenshot(path=png, full_page=True)


if __name__ == "__main__":
    import sys

    screenshot(sys.argv[1], sys.argv[2])
