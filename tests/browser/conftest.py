"""Fixtures for the browser journeys: Debian's Chromium, one JupyterLab, a fresh working copy.

Nothing is downloaded here: Playwright drives the system Chromium. Without it the journeys
are skipped on a workstation but fail the run in CI (``CI`` set), where skipping would hide
that they never ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labdriver import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, LabServer, start_lab, stop_lab

from instructor.course import write_course_config
from student.lab import copy_missing_notebooks

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
ASSIGNMENT = "gradient_checking"
VIEWPORT = {"width": 1280, "height": 900}


def skip_or_fail(message: str) -> None:
    """Skip locally; in CI a journey that cannot run is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# Module scope: Playwright's sync API keeps an event loop running in the main thread while
# it is open, and code that runs its own loop (grading, the sandbox tests) must not meet it.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium, headless, launched once for all journeys."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail(INSTALL_HINT)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is missing: run `make setup`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One JupyterLab for the session, serving a temporary root with temporary Jupyter dirs."""
    root = tmp_path_factory.mktemp("lab-root")
    # The Validate button applies the course's nbgrader settings (cell timeout), as `make lab`
    # does by starting the server in the repository root.
    write_course_config(root)
    server = start_lab(root, tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def source_dir() -> Path:
    """The instructor notebooks, with their solution regions."""
    return REPO_ROOT / "notebooks" / ASSIGNMENT


@pytest.fixture
def work_dir(lab_server: LabServer, request: pytest.FixtureRequest) -> Path:
    """A fresh working copy of release/, made as `make lab` makes it, inside the served root.

    Returns the assignment's working folder relative to the server root, one per test.
    """
    name = re.sub(r"\W+", "_", request.node.name)
    copy_missing_notebooks(REPO_ROOT / "release", lab_server.root / name)
    return Path(name, ASSIGNMENT)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator:
    """A page in its own browser context; on failure a screenshot is kept for the report."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / f"FAILED-{request.node.name}.png")
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep the call-phase report on the item so that ``page`` can see a failure."""
    report = yield
    if report.when == "call":
        item.report_call = report
    return report


@pytest.fixture
def screenshot(page) -> Callable[[str], Path]:
    """Save what the page shows now as ``build/screenshots/<name>.png``; returns the path."""

    def save(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path)
        return path

    return save
