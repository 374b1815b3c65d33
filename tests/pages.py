"""Rendering graded notebooks as nbgrader's pages, and finding script a student put there.

`render` makes the page nbgrader's feedback or Formgrader template makes, with the course's
nbgrader_config.py (or without it, to show what it prevents); `live_payloads` lists every
place the marker `MARK` would run in a browser: script text, event handler, URL, frame.
"""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path

import nbgrader.server_extensions.formgrader.handlers as formgrader_handlers
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

from instructor.course import load_config
from instructor.example_class import SCRIPT_MARK as MARK

NBGRADER_TEMPLATES = Path(formgrader_handlers.__file__).parent / "templates"
BOOTSTRAP_CSS = (
    Path(formgrader_handlers.__file__).parent / "static" / "node_modules" / "bootstrap" / "dist"
    / "css"
)
# What the feedback and Formgrader templates read from resources (nbgrader's GetGrades and
# Formgrader's submission handler fill them in).
RESOURCES = {
    "nbgrader": {"notebook": "nb", "score": 0, "max_score": 1, "late_penalty": 0},
    "assignment_id": "a", "notebook_id": "nb", "submission_id": "s", "index": 0, "total": 1,
    "base_url": "/", "student": "st", "last_name": None, "first_name": None,
    "notebook_path": "nb.ipynb",
}

URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"})


class _LiveScript(HTMLParser):
    """Collects every place where the payload would run: script, handler, URL, frame."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self._in_code = [], None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if MARK not in value:
                continue
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            elif name in URL_ATTRIBUTES:
                self.found.append(f"<{tag} {name}>")
            elif name == "style":
                self.found.append(f"<{tag} style>")
        if tag in ("script", "style", "iframe", "object", "embed"):
            self._in_code = tag

    def handle_endtag(self, tag):
        if tag == self._in_code:
            self._in_code = None

    def handle_data(self, data):
        if self._in_code and MARK in data:
            self.found.append(f"<{self._in_code}> text")


def live_payloads(html: str) -> list[str]:
    parser = _LiveScript()
    parser.feed(html)
    return parser.found


def render(nb, template: str, course_settings: bool = True, exporter=HTMLExporter) -> str:
    """Render `nb` as nbgrader's `template` ("feedback" or "formgrade") page does."""
    config = Config(load_config(Path("course")) if course_settings else {})
    config.HTMLExporter.template_name = template
    config.HTMLExporter.extra_template_basedirs = [str(NBGRADER_TEMPLATES)]
    config.HTMLExporter.extra_template_paths = [str(BOOTSTRAP_CSS)]
    html, _ = exporter(config=config).from_notebook_node(
        copy.deepcopy(nb), resources=copy.deepcopy(RESOURCES)
    )
    return html
