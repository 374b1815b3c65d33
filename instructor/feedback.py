"""What the pages made from graded notebooks may show: no hidden test, no student script.

Hidden tests: nbgrader's ClearHiddenTests removes the hidden block from a test cell's
source, but the cell's error output still quotes the source around the failing line: a
failing visible assert shows the hidden lines below it, a failing hidden assert shows
itself. `ScrubHiddenTracebacks`, run before ClearHiddenTests in GenerateFeedback, blanks
those quoted lines.

Student script: feedback and Formgrader pages are served from the course's Jupyter server,
so a script a student's markdown or output put in them would run with the instructor's
session (its kernels, the gradebook). nbconvert's ``sanitize_html`` cleans HTML outputs but
not markdown cells (nbgrader's templates render them unsanitized) nor an image output's
width and height (written into the page unquoted). `SanitizedMarkdown` and
`InertOutputMetadata` close those two; ``nbgrader_config.py`` sets all three on every
HTMLExporter, Formgrader's included.
"""

from __future__ import annotations

import numbers
import re

import bleach
import jinja2
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor
from nbformat import from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets.config import LoggingConfigurable

from instructor.cells import hidden_lines

PLACEHOLDER = "    (hidden test line)"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def scrub(text: str, hidden: list[str]) -> str:
    """Replace every line of `text` that quotes a hidden line (ANSI colours ignored)."""
    kept = []
    for line in text.split("\n"):
        plain = ANSI.sub("", line)
        kept.append(PLACEHOLDER if any(h in plain for h in hidden) else line)
    return "\n".join(kept)


class ScrubHiddenTracebacks(NbGraderPreprocessor):
    """Blank hidden-test source lines quoted in the error outputs of a test cell."""

    def preprocess_cell(self, cell, resources, index):
        hidden = hidden_lines(cell.source) if cell.cell_type == "code" else []
        for output in cell.get("outputs", []) if hidden else []:
            if output.get("output_type") == "error":
                output.traceback = [scrub(entry, hidden) for entry in output.traceback]
        return cell, resources


# What rendered markdown keeps: the structure markdown itself produces (headings, lists,
# tables, code, links, images) and nothing that runs or loads code.
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})  # the only tags that keep an id
MARKDOWN_TAGS = frozenset(bleach.sanitizer.ALLOWED_TAGS) | HEADINGS | {
    "p", "br", "hr", "pre", "code", "span", "div",
    "table", "thead", "tbody", "tr", "th", "td", "img", "del", "sup", "sub", "dl", "dt", "dd",
}
LINK_PREFIXES = ("#", "http://", "https://", "mailto:")
IMAGE_PREFIXES = ("http://", "https://", "data:image/png;", "data:image/jpeg;", "data:image/gif;")


def _markdown_attribute(tag: str, name: str, value: str) -> bool:
    """True for the attributes rendered markdown keeps (links and images only to safe URLs)."""
    if name in ("class", "title", "alt"):
        return True
    if name == "id":
        return tag in HEADINGS
    if tag == "a" and name == "href":
        return value.strip().lower().startswith(LINK_PREFIXES) or ":" not in value
    if tag == "img" and name == "src":
        return value.strip().lower().startswith(IMAGE_PREFIXES) or ":" not in value
    if tag == "img" and name in ("width", "height"):
        return value.isdigit()
    return False


def clean_markdown_html(html: str) -> str:
    """Return rendered markdown with every tag, attribute and URL that could run code removed.

    Parameters
    ----------
    html : str
        HTML made from a markdown cell (math stays as escaped text, untouched).

    Returns
    -------
    str
        The same HTML where anything else is escaped into visible text.
    """
    return bleach.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes=_markdown_attribute,
        protocols={"http", "https", "mailto", "data"},
        strip_comments=True,
    )


class SanitizedMarkdown(LoggingConfigurable):
    """nbconvert's ``markdown2html`` filter, its result cleaned by `clean_markdown_html`.

    Registered as a template filter (``HTMLExporter.filters``), it is built with the exporter
    as its parent and renders through the exporter's own filter, attachments included.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        jinja2.pass_context(self)  # Jinja hands this filter the template context.

    def __call__(self, context, source):
        return clean_markdown_html(str(self.parent.markdown2html(context, source)))


class InertOutputMetadata(Preprocessor):
    """Keep only numeric width and height in each output's metadata.

    The rest (``isolated``, ``filenames``, ``unconfined``, ...) is chosen by the code that
    displayed the output, and the templates write width and height into the page unquoted.
    """

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "metadata" in output:
                output.metadata = from_dict(_inert_metadata(output.metadata))
        return cell, resources


def _inert_metadata(metadata) -> dict:
    kept = {}
    for mimetype, entry in metadata.items() if isinstance(metadata, dict) else ():
        if not isinstance(entry, dict):
            continue
        size = {
            key: int(value)
            for key, value in entry.items()
            if key in ("width", "height")
            and isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and 0 < value < 100_000
        }
        if size:
            kept[mimetype] = size
    return kept


NO_ALT_TEXT = "No description has been provided for this image"  # nbconvert's words
IMG_TAG = re.compile(r"<img\b(?P<attributes>[^>]*?)(?P<end>\s*/?)>", re.IGNORECASE)
ALT_ATTRIBUTE = re.compile(r"\salt\s*=", re.IGNORECASE)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter without its closing BeautifulSoup pass, for feedback pages.

    HTMLExporter parses every page it rendered and writes it out again, to give images a
    placeholder alt text and JupyterLab-template cells a tabindex: about half the time of a
    feedback page, paid by the single writer of a class's grading for every student. The
    feedback template (classic) has no JupyterLab cells, and the alt text is added here by
    pattern. Any other template goes through nbconvert's own code.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        if self.template_name != "feedback":
            return super().from_notebook_node(nb, resources, **kw)
        # What HTMLExporter.from_notebook_node does before rendering, then the rendering.
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name"))
        highlight = self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
        )
        resources = self._init_resources(resources)
        self.register_filter("highlight_code", highlight)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            ),
        )
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return with_alt_text(html), resources


def with_alt_text(html: str) -> str:
    """Give every ``<img>`` without an alt attribute nbconvert's placeholder alt text."""

    def add(match: re.Match) -> str:
        if ALT_ATTRIBUTE.search(match["attributes"]):
            return match[0]
        return f'<img{match["attributes"]} alt="{NO_ALT_TEXT}"{match["end"]}>'

    return IMG_TAG.sub(add, html)
