"""Start a throw-away JupyterLab server and drive its notebooks through Playwright.

Kept apart from the journeys so those read as what a student does. Selectors are JupyterLab 4
DOM classes (``.jp-Notebook``, ``.jp-Cell``, ``.cm-content``, ``.jp-OutputArea-output``) and
nbgrader's lab extension (``jp-button.validate-button``, ``.nbgrader-SuccessDialog``,
``.nbgrader-ErrorDialog``), as used by nbgrader's own UI tests.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat

from instructor import cells

# Debian's package; CHROMIUM_PATH points elsewhere (another distribution, a local build).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    f"no Chromium at {CHROMIUM}; the browser tests drive Debian's Chromium, install it with: "
    "sudo apt-get install -y --no-install-recommends chromium "
    "(or set CHROMIUM_PATH to another Chromium binary)"
)

SERVER_START_TIMEOUT = 60.0  # seconds; the first start also builds matplotlib's font cache
SERVER_STOP_TIMEOUT = 10.0
# Run All plus server-side Validate each run the whole notebook in a fresh kernel.
NOTEBOOK_RUN_TIMEOUT_MS = 60_000
UI_TIMEOUT_MS = 20_000

# Settings a student would click away; preset so that no toast covers the notebook.
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# JupyterLab renders tracebacks and stderr streams with this MIME type.
STDERR_MIME = "application/vnd.jupyter.stderr"
# True once no code cell is queued or running ([*]) and either every one is numbered or an
# error is shown (Run All stops at the first error, leaving later cells unnumbered).
RUN_ALL_SETTLED_JS = r"""(stderrMime) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(prompt => prompt.textContent.trim());
    if (prompts.some(prompt => prompt.includes('*'))) return false;
    const error = panel.querySelector(`.jp-OutputArea-output[data-mime-type="${stderrMime}"]`);
    return error !== null || prompts.every(prompt => /^\[\d+\]:$/.test(prompt));
}"""

@dataclass
class LabServer:
    """A running JupyterLab: its process, where it serves from, and how to reach it."""

    process: subprocess.Popen
    root: Path
    port: int
    token: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, relative: str) -> str:
        """URL opening one notebook; ``reset`` drops any saved workspace layout."""
        return f"{self.base_url}/lab/tree/{relative}?reset&token={self.token}"


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1 (released just before the server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_environment(home: Path) -> dict[str, str]:
    """Environment with user-level Jupyter dirs under ``home`` and this venv first.

    Only the user-level config/data/runtime dirs move: the venv's own ``etc/jupyter`` and
    ``share/jupyter`` (nbgrader's server and lab extensions, the python3 kernelspec) stay on
    Jupyter's search path because they are found through ``sys.prefix``.
    """
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings"
    for relative, values in LAB_USER_SETTINGS.items():
        target = settings / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    # nbgrader shells out to scripts of this venv (alembic); find them without activation.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def start_lab(root: Path, home: Path) -> LabServer:
    """Start JupyterLab serving ``root`` on loopback with a token; wait until it answers.

    The server runs in its own process group so that teardown can stop it and anything it
    spawned with one signal. Its current directory is ``root``: nbgrader's Validate handler
    reads ``nbgrader_config.py`` from there.
    """
    port, token = free_port(), secrets.token_hex(16)
    env = isolated_environment(home)
    log = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        # CI containers run as root, which JupyterLab otherwise refuses.
        "--ServerApp.allow_root=True",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(process, root, port, token, log)
    try:
        wait_until_up(server)
    except BaseException:
        stop_lab(server)
        raise
    return server


def wait_until_up(server: LabServer) -> None:
    """Poll ``/api/status`` until it answers 200, the process dies, or time runs out."""
    url = f"{server.base_url}/api/status?token={server.token}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {server.process.returncode}:\n{server.log.read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(
        f"JupyterLab not up after {SERVER_START_TIMEOUT} s:\n{server.log.read_text()}"
    )


def stop_lab(server: LabServer) -> None:
    """Stop the server's whole process group: SIGTERM (it shuts its kernels down), then SIGKILL."""
    try:
        pgid = os.getpgid(server.process.pid)
    except ProcessLookupError:
        server.process.wait()
        return
    os.killpg(pgid, signal.SIGTERM)
    try:
        server.process.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        server.process.wait()


def solution_sources(source_notebook: Path) -> dict[str, str]:
    """Source of each answer cell (code or written) in the instructor notebook, by grade_id.

    The ``### BEGIN/END SOLUTION`` marker lines are dropped and what lies between them kept,
    which is what a student who solved the exercise ends up with in that cell.
    """
    notebook = nbformat.read(source_notebook, as_version=4)
    answers = {}
    for cell in notebook.cells:
        if cells.is_answer(cell):
            lines = cell.source.splitlines()
            answers[cells.grade_id(cell)] = "\n".join(
                line for line in lines if not _solution_marker(line)
            )
    return answers


def _solution_marker(line: str) -> bool:
    """A line nbgrader's ClearSolutions takes as a delimiter."""
    return cells.BEGIN_SOLUTION in line or cells.END_SOLUTION in line


def cell_indices(notebook_path: Path, predicate) -> dict[str, int]:
    """Position of each cell whose nbgrader metadata satisfies ``predicate``, by grade_id."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: index
        for index, cell in enumerate(notebook.cells)
        if "nbgrader" in cell.metadata and predicate(cell)
    }


def is_answer_cell(cell) -> bool:
    """A cell the student writes in: code to implement or a written (markdown) answer."""
    return cells.is_answer(cell)


def is_test_cell(cell) -> bool:
    """An autograded test cell (locked code with points)."""
    return cells.is_test(cell)


def is_graded_cell(cell) -> bool:
    """A cell nbgrader's Validate checks: test cells and manually graded answers (not tasks)."""
    return cells.is_test(cell) or (cells.is_answer(cell) and cells.is_graded(cell))


class NotebookPage:
    """One notebook open in JupyterLab, driven the way a student would."""

    def __init__(self, page, server: LabServer, relative: str) -> None:
        self.page = page
        self.server = server
        self.relative = relative
        self.path = server.root / relative

    def open(self) -> NotebookPage:
        self.page.goto(self.server.notebook_url(self.relative))
        self.notebook.locator(".jp-Cell").first.wait_for(timeout=UI_TIMEOUT_MS)
        # Cells run before the kernel is connected are silently dropped: wait for it.
        self.wait_for_kernel_idle()
        return self

    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def notebook(self):
        return self.panel.locator(".jp-Notebook")

    def cell(self, index: int):
        """The cell at ``index``, scrolled into view (JupyterLab renders only visible cells)."""
        cell = self.notebook.locator(".jp-Cell").nth(index)
        cell.scroll_into_view_if_needed(timeout=UI_TIMEOUT_MS)
        return cell

    def wait_for_kernel_idle(self, timeout_ms: int = NOTEBOOK_RUN_TIMEOUT_MS) -> None:
        """Wait until the status bar reads ``<kernel> | Idle``.

        Not the toolbar's execution indicator: it reads "idle" for a moment before the kernel
        is even started, and cells run then are silently dropped.
        """
        self.page.locator(
            "#jp-main-statusbar .jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")
        ).wait_for(timeout=timeout_ms)

    def replace_cell_source(self, index: int, code: str) -> None:
        """Type ``code`` into a cell's editor in place of what is there.

        ``insert_text`` sends the text as one input event, so CodeMirror's auto-indent and
        bracket closing (which fire on key presses) do not change it.
        """
        cell = self.cell(index)
        if "jp-MarkdownCell" in (cell.get_attribute("class") or ""):
            # A rendered markdown cell has no editor until it is opened for editing.
            cell.click()
            self.page.keyboard.press("Enter")
        editor = cell.locator(".cm-content")
        editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Escape")  # back to command mode, as after editing

    def menu(self, *labels: str) -> None:
        """Click through the menu bar, e.g. ``menu("Run", "Run All Cells")``."""
        self.page.locator(
            ".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(labels[0])}$")
        ).click()
        for label in labels[1:]:
            self.page.locator(
                ".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")
            ).click()

    def run_all(self) -> None:
        """Run > Run All Cells, then wait until it finished or stopped at an error."""
        self.menu("Run", "Run All Cells")
        # Run All marks every code cell [*] at once and numbers each as it completes.
        self.page.wait_for_function(
            RUN_ALL_SETTLED_JS, arg=STDERR_MIME, timeout=NOTEBOOK_RUN_TIMEOUT_MS
        )
        self.wait_for_kernel_idle()

    def outputs(self, index: int):
        """Output elements of the cell at ``index`` (scrolled into view)."""
        return self.cell(index).locator(".jp-OutputArea-output")

    def shown_text(self, index: int, timeout_s: float = UI_TIMEOUT_MS / 1000) -> str:
        """Text the page renders for the outputs of the cell at ``index``.

        Cells out of view are not rendered (CSS ``content-visibility``) and read as empty, and
        a long jump makes the cells in between render and push the target away again: scroll
        to each output until the page shows some text.
        """
        outputs = self.outputs(index)
        deadline = time.monotonic() + timeout_s
        while True:
            texts = []
            for position in range(outputs.count()):
                output = outputs.nth(position)
                output.scroll_into_view_if_needed()
                texts.append(output.inner_text())
            shown = "".join(texts)
            if shown.strip() or time.monotonic() > deadline:
                return shown
            time.sleep(0.1)

    def error_outputs(self):
        """Tracebacks and stderr shown anywhere in the notebook."""
        return self.notebook.locator(f".jp-OutputArea-output[data-mime-type='{STDERR_MIME}']")

    def save(self) -> nbformat.NotebookNode:
        """Save with Ctrl+S, wait until the tab is clean, and return the notebook as saved."""
        self.page.keyboard.press("ControlOrMeta+s")
        self.page.locator(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)").wait_for(
            timeout=UI_TIMEOUT_MS
        )
        return nbformat.read(self.path, as_version=4)

    def validate(self):
        """Click nbgrader's Validate button; return the results dialog once shown."""
        self.panel.locator("jp-button.validate-button").click()
        dialog = self.page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog")
        dialog.wait_for(timeout=NOTEBOOK_RUN_TIMEOUT_MS)
        return dialog
