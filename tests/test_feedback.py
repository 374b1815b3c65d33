"""Pages made from graded notebooks (feedback, Formgrader) never run what a student wrote.

Each hostile notebook below is rendered the way nbgrader renders it, with the course's own
nbgrader_config.py. The checker is shown to catch every payload on a page rendered without
the course's settings, so a pass means the settings stopped them.
"""

from __future__ import annotations

import copy
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pages import MARK, NBGRADER_TEMPLATES, live_payloads, render

from instructor.course import SOURCE_ROOT, find_assignment, notebook_names
from instructor.feedback import NO_ALT_TEXT, FeedbackExporter, clean_markdown_html, with_alt_text

MARKDOWN_ATTACKS = {
    "script": f"An answer <script>{MARK}()</script>",
    "event handler": f'<img src="x" onerror="{MARK}()">',
    "javascript link": f"[click](javascript:{MARK}())",
    "encoded javascript link": f'<a href="jav&#x61;script:{MARK}()">click</a>',
    "iframe": f'<iframe srcdoc="<script>{MARK}()</script>"></iframe>',
    "inline svg": f'<svg onload="{MARK}()"><script>{MARK}()</script></svg>',
    "form": f'<form action="javascript:{MARK}()"><button>go</button></form>',
    "style": f"<style>body {{ background: url('javascript:{MARK}()') }}</style>",
}


def _display(data, metadata=None):
    return new_output("display_data", data={"text/plain": "shown", **data},
                      metadata=metadata or {})


OUTPUT_ATTACKS = {
    "html script": _display({"text/html": f"<script>{MARK}()</script>"}),
    "html event handler": _display({"text/html": f'<img src=x onerror="{MARK}()">'}),
    "html javascript link": _display({"text/html": f"<a href='javascript:{MARK}()'>a</a>"}),
    "isolated html": _display({"text/html": f"<script>{MARK}()</script>"},
                              {"text/html": {"isolated": True}}),
    "javascript output": _display({"application/javascript": f"{MARK}()"}),
    "markdown output": _display({"text/markdown": f"<script>{MARK}()</script>"}),
    "image width": _display({"image/png": "iVBORw0KGgo="},
                            {"image/png": {"width": f"1 onerror={MARK}()"}}),
    "image height": _display({"image/jpeg": "/9j/4AAQ"},
                             {"image/jpeg": {"height": f"1 onload={MARK}()"}}),
    "widget view": _display({"application/vnd.jupyter.widget-view+json":
                             {"model_id": f"</script><script>{MARK}()</script>"}}),
}


def _notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


CASES = [
    *[(name, _notebook([new_markdown_cell(source)])) for name, source in MARKDOWN_ATTACKS.items()],
    *[(name, _notebook([new_code_cell("x", outputs=[output])]))
      for name, output in OUTPUT_ATTACKS.items()],
]


@pytest.mark.parametrize("template", ["feedback", "formgrade"])
@pytest.mark.parametrize("name, nb", CASES, ids=[name for name, _ in CASES])
def test_a_students_script_never_runs_on_a_feedback_or_formgrader_page(name, nb, template):
    assert live_payloads(render(nb, template)) == []


# Without the course's settings every other payload runs: the checker sees them. (Isolated
# HTML runs in a frame of its own, opaque origin; a widget view is written as escaped JSON.)
INERT_BY_DEFAULT = {"isolated html", "widget view"}
UNSAFE_BY_DEFAULT = [name for name, _ in CASES if name not in INERT_BY_DEFAULT]


@pytest.mark.parametrize("template", ["feedback", "formgrade"])
@pytest.mark.parametrize("name", UNSAFE_BY_DEFAULT)
def test_the_same_payloads_run_on_pages_rendered_without_the_course_settings(name, template):
    nb = dict(CASES)[name]
    assert live_payloads(render(nb, template, course_settings=False)) != []


def test_a_students_text_stays_visible_as_text():
    nb = _notebook([new_markdown_cell(MARKDOWN_ATTACKS["script"])])
    html = render(nb, "feedback")
    assert f"&lt;script&gt;{MARK}()&lt;/script&gt;" in html


COURSE_FOLDER = SOURCE_ROOT / find_assignment(SOURCE_ROOT)
COURSE_NOTEBOOKS = [COURSE_FOLDER / name for name in notebook_names(COURSE_FOLDER)]


class _Text(HTMLParser):
    """The visible text and the tag counts of a page's markdown cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.tags = [], {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_data(self, data):
        self.text.append(data)


def _markdown_view(html):
    parser = _Text()
    parser.feed(html)
    return "".join(parser.text), parser.tags


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=lambda p: p.stem)
def test_the_course_notebooks_markdown_reads_the_same_after_cleaning(path):
    """Cleaning keeps every heading, table, link, image and math of the lesson's prose."""
    exporter = HTMLExporter(template_name="classic")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        rendered = exporter.markdown2html({"cell": cell}, cell.source)
        assert _markdown_view(clean_markdown_html(rendered)) == _markdown_view(rendered)


def test_the_checker_reads_attributes_as_a_browser_does():
    assert live_payloads(f'<a href="jav&#x61;script:{MARK}()">x</a>') == ["<a href>"]
    assert live_payloads(f"<p>{MARK}</p>") == []


def test_the_pages_are_rendered_with_nbgraders_own_templates():
    for template in ("feedback", "formgrade"):
        assert (NBGRADER_TEMPLATES / template / "index.html.j2").is_file()


def _with_scores(nb):
    """`nb` as GetGrades leaves it for the feedback template: every graded cell scored."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade") or grading.get("points") is not None:
            grading["score"] = grading.get("points", 0)
            grading.setdefault("points", 0)
    return nb


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=lambda p: p.stem)
def test_the_feedback_exporter_makes_nbconverts_page(path):
    """The same page as nbconvert's HTMLExporter, once both go through BeautifulSoup."""
    from bs4 import BeautifulSoup  # nbconvert's own tool for its last pass

    nb = _with_scores(nbformat.read(path, as_version=4))
    theirs = render(nb, "feedback", exporter=HTMLExporter)
    ours = render(nb, "feedback", exporter=FeedbackExporter)
    assert str(BeautifulSoup(ours, "html.parser")) == theirs


def test_some_course_notebook_has_images_for_the_alt_text_to_be_compared():
    notebooks = [nbformat.read(path, as_version=4) for path in COURSE_NOTEBOOKS]
    assert any(
        "image/png" in output.get("data", {})
        for nb in notebooks for cell in nb.cells for output in cell.get("outputs", [])
    )


def test_alt_text_is_added_only_where_missing():
    page = '<img src="a.png"><img src="b.png" alt="plot"/><IMG SRC="c.png" />'
    assert with_alt_text(page) == (
        f'<img src="a.png" alt="{NO_ALT_TEXT}"><img src="b.png" alt="plot"/>'
        f'<img SRC="c.png" alt="{NO_ALT_TEXT}" />'
    )
