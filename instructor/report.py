"""The class report: what a whole class got right and wrong, as one page, ``OUT/report.html``.

Written after every grading run from data alone: each student's row (scores from the
gradebook), each test cell's verdict with its checks (:class:`course_utils.runner.CheckRecord`:
label, visible or hidden, passed), the kinds of problems met, and the seconds grading took.
It shows

- the score distribution of each notebook and of the total (histograms);
- the pass rate of each test cell, its visible and its hidden checks apart;
- the hidden checks failed most often, by their labels (plain words; never their code, inputs
  or expected values, which the records do not even hold);
- the statuses, grouped (time-outs, repairs, limits, sandbox opt-out, ...);
- the grading time per student.

Figures are matplotlib PNGs embedded in the page (no external asset: it opens offline and
prints), and every piece of text that a student could choose (ids, statuses) is escaped; the
page forbids scripts outright (Content-Security-Policy).

Stages: :func:`student_entry` turns one student's run results into the small JSON-ready entry
the grader keeps with the student (counts of checks, labels of the failed hidden ones);
:func:`student_record` reads it back; :func:`build` turns rows and records into a
:class:`ClassReport`; :func:`render_html` turns that into the page; :func:`write_class_report`
does it all for a course folder.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.runner import CheckRecord

REPORT_FILE = "report.html"
# How many of the hidden checks failed most often the page lists.
TOP_HIDDEN_FAILURES = 15
# How many students the page names in one status group (a large class lists thousands).
NAMED_PER_GROUP = 40
# How many of the slowest students the page names.
SLOWEST_SHOWN = 10
# Status groups, in the order the page lists them; a problem's kind maps to one.
TIMEOUT, REPAIR, LIMIT, ABUSE, OPT_OUT, MISSING, ANSWERS, GRADER, OTHER = (
    "time-outs", "repairs", "limits", "misuse of the grader's functions", "sandbox opt-out",
    "missing or unreadable", "errors in answer cells", "grader errors", "other",
)
GROUPS = [TIMEOUT, LIMIT, ABUSE, REPAIR, MISSING, ANSWERS, GRADER, OPT_OUT, OTHER]
FIGURE_DPI = 100
# Colours of passed and failed checks (colour-blind safe pair), and of histograms.
PASS_COLOUR, FAIL_COLOUR, BAR_COLOUR = "#1b7837", "#c2185b", "#4c72b0"


@dataclass(frozen=True)
class CellResult:
    """One test cell of one student, as judged: what the report counts of its checks.

    Attributes
    ----------
    notebook, grade_id : str
    passed : bool
    visible, hidden : tuple of (int, int)
        Checks passed and checks recorded, visible and hidden apart.
    failed_hidden : tuple of str
        Labels of the hidden checks that failed (plain words; never code or inputs).
    """

    notebook: str
    grade_id: str
    passed: bool
    visible: tuple[int, int] = (0, 0)
    hidden: tuple[int, int] = (0, 0)
    failed_hidden: tuple[str, ...] = ()

    @classmethod
    def from_checks(cls, notebook: str, grade_id: str, passed: bool,
                    checks: Iterable[CheckRecord]) -> CellResult:
        """Count a cell's check records (``judge.Verdict.checks``)."""
        checks = list(checks)
        visible = [check.ok for check in checks if not check.hidden]
        hidden = [check.ok for check in checks if check.hidden]
        failed = tuple(check.label for check in checks if check.hidden and not check.ok)
        return cls(notebook, grade_id, passed, (sum(visible), len(visible)),
                   (sum(hidden), len(hidden)), failed)


@dataclass(frozen=True)
class StudentRecord:
    """What the report knows of one student besides their row of grades."""

    student_id: str
    tests: tuple[CellResult, ...] = ()
    problem_kinds: tuple[str, ...] = ()
    seconds: float | None = None


@dataclass(frozen=True)
class CellStats:
    """Pass rates of one test cell across the class."""

    notebook: str
    grade_id: str
    judged: int
    passed: int
    visible_passed: int
    visible_total: int
    hidden_passed: int
    hidden_total: int
    # Students whose hidden checks did not run (their visible checks failed first).
    hidden_not_run: int


@dataclass(frozen=True)
class HiddenFailure:
    """A hidden check, by its label, and how often the class failed it: ``failed`` of the
    ``ran`` students whose hidden checks of that cell ran."""

    notebook: str
    grade_id: str
    label: str
    failed: int
    ran: int


@dataclass
class ClassReport:
    """Everything the page shows, as data."""

    assignment: str
    students: int
    notebook_scores: dict[str, list[float]]
    notebook_max: dict[str, float]
    totals: list[float]
    total_max: float
    cells: list[CellStats]
    hidden_failures: list[HiddenFailure]
    statuses: dict[str, list[str]]
    seconds: dict[str, float]
    manual_pending: int = 0
    not_submitted: list[str] = field(default_factory=list)


def student_entry(results: Mapping[str, Mapping], kinds: Iterable[str] = (),
                  seconds: float | None = None) -> dict:
    """The JSON-ready entry the grader keeps with a student for later reports.

    Kept small (it is saved with every student of the class, run after run): per test cell
    the counts of its checks and the labels of the hidden ones that failed, not every check.

    Parameters
    ----------
    results : mapping
        Notebook name -> that notebook's run result as plain data, with ``"tests"``: a list
        of ``{"grade_id", "passed", "checks": [[label, hidden, ok], ...]}``
        (``judge.verdict_data``).
    kinds : iterable of str
        The kinds of the problems met (see :data:`GROUP_KINDS`).
    seconds : float, optional
        What grading the student took.

    Returns
    -------
    dict
        ``{"tests": {notebook: [[grade_id, passed, visible passed, visible total,
        hidden passed, hidden total, [failed hidden labels]], ...]}, "kinds": [...],
        "seconds": float}``.
    """
    tests = {}
    for name, result in results.items():
        cells = []
        for test in result.get("tests", ()):
            checks = [CheckRecord(str(label), bool(hidden), bool(ok))
                      for label, hidden, ok in test.get("checks", ())]
            cell = CellResult.from_checks(name, str(test["grade_id"]), bool(test["passed"]),
                                          checks)
            cells.append([cell.grade_id, cell.passed, *cell.visible, *cell.hidden,
                          list(cell.failed_hidden)])
        tests[name] = cells
    return {"tests": tests, "kinds": sorted(set(kinds)),
            "seconds": None if seconds is None else round(float(seconds), 3)}


def student_record(student_id: str, entry: Mapping | None) -> StudentRecord:
    """A :class:`StudentRecord` from the entry :func:`student_entry` made (or none)."""
    entry = entry or {}
    tests = entry.get("tests") or {}
    if not isinstance(tests, Mapping):
        tests = {}  # an entry from before the counts were kept: graded again when it changes
    cells = tuple(
        CellResult(notebook, grade_id, passed, (v_ok, v_all), (h_ok, h_all), tuple(failed))
        for notebook, rows in tests.items()
        for grade_id, passed, v_ok, v_all, h_ok, h_all, failed in rows
    )
    return StudentRecord(student_id, cells, tuple(entry.get("kinds", ())), entry.get("seconds"))


# The status group of each kind of problem (instructor.problems.WORDS); tests/test_report.py
# holds this to every kind there is, so a new kind must be given its group here.
GROUP_KINDS = {
    TIMEOUT: ["timeout"],
    LIMIT: ["limit", "kernel_died"],
    ABUSE: ["callback_abuse"],
    REPAIR: ["test_edited", "test_deleted", "points_restored", "metadata_restored",
             "metadata_reset", "duplicate_ignored", "foreign_cell", "cell_type_restored",
             "cell_restored", "other_files"],
    MISSING: ["missing", "symlink", "not_regular", "not_utf8", "not_json", "not_notebook",
              "unusable", "no_assignment_folder", "bad_student_id", "unreadable_submission"],
    GRADER: ["job_failed", "record_failed", "crashed_grader", "no_feedback", "judge_error"],
    ANSWERS: ["answer_errors"],
    OTHER: ["run"],
}
KIND_GROUPS = {kind: group for group, kinds in GROUP_KINDS.items() for kind in kinds}


def build(rows: Sequence, records: Mapping[str, StudentRecord],
          notebook_max: Mapping[str, float], sandboxed: bool = True) -> ClassReport:
    """Count what the class did.

    Parameters
    ----------
    rows : sequence of instructor.export.GradeRow
        Every student's grades (manual grades included).
    records : mapping of str to StudentRecord
        Per student: test verdicts with checks, problem kinds, seconds.
    notebook_max : mapping of str to float
        Notebook (name without ``.ipynb``) -> its maximum score.
    sandboxed : bool
        False when the class was graded without the sandbox.
    """
    submitted = [row for row in rows if row.submitted]
    notebooks = list(notebook_max)
    scores = {name: [row.scores.get(name, 0.0) for row in submitted] for name in notebooks}
    cells: dict[tuple[str, str], dict] = {}
    failed_by_label: Counter = Counter()
    statuses: dict[str, list[str]] = {group: [] for group in GROUPS}
    for row in submitted:
        record = records.get(row.student_id) or StudentRecord(row.student_id)
        for test in record.tests:
            cell = cells.setdefault((test.notebook, test.grade_id), Counter())
            cell["judged"] += 1
            cell["passed"] += test.passed
            cell["visible_passed"] += test.visible[0]
            cell["visible_total"] += test.visible[1]
            cell["hidden_passed"] += test.hidden[0]
            cell["hidden_total"] += test.hidden[1]
            cell["hidden_not_run"] += not test.hidden[1]
            failed_by_label.update(
                (test.notebook, test.grade_id, label) for label in set(test.failed_hidden)
            )
        groups = {KIND_GROUPS.get(kind, OTHER) for kind in record.problem_kinds}
        if not sandboxed:
            groups.add(OPT_OUT)
        for group in groups:
            statuses[group].append(row.student_id)
    # A hidden check "ran" for every student whose cell's hidden checks ran.
    ran = {key: counts["judged"] - counts["hidden_not_run"] for key, counts in cells.items()}
    failures = sorted(
        (HiddenFailure(nb, grade_id, label, failed, max(failed, ran[nb, grade_id]))
         for (nb, grade_id, label), failed in failed_by_label.items()),
        key=lambda f: (-f.failed / f.ran, -f.failed, f.notebook, f.grade_id, f.label),
    )[:TOP_HIDDEN_FAILURES]
    return ClassReport(
        assignment=submitted[0].assignment if submitted else "",
        students=len(submitted),
        notebook_scores=scores,
        notebook_max=dict(notebook_max),
        totals=[row.total for row in submitted],
        total_max=max((row.max_score for row in submitted), default=sum(notebook_max.values())),
        cells=[CellStats(nb, grade_id, **counts) for (nb, grade_id), counts in cells.items()],
        hidden_failures=failures,
        statuses={group: sorted(ids) for group, ids in statuses.items() if ids},
        seconds={
            row.student_id: records[row.student_id].seconds
            for row in submitted
            if row.student_id in records and records[row.student_id].seconds is not None
        },
        manual_pending=sum(row.manual_pending for row in submitted),
        not_submitted=sorted(row.student_id for row in rows if not row.submitted),
    )


def _figure(width, height):
    """A matplotlib Figure of its own: no pyplot state, no backend of the session's."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _png(figure) -> str:
    """A figure as an embedded image (base64 PNG data URL)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(axis, values, maximum, title):
    bins = max(1, min(20, int(maximum) or 1))
    axis.hist(values, bins=bins, range=(0, maximum or 1), color=BAR_COLOUR, edgecolor="white")
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("score")
    axis.set_ylabel("students")
    axis.yaxis.get_major_locator().set_params(integer=True)


def score_figures(report: ClassReport) -> str:
    """Histograms of each notebook's scores and of the total, one figure."""
    panels = len(report.notebook_scores) + 1
    columns = min(3, panels)
    rows = -(-panels // columns)
    figure = _figure(4 * columns, 2.8 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    flat = list(axes.flat)
    for axis, (name, values) in zip(flat, report.notebook_scores.items(), strict=False):
        maximum = report.notebook_max.get(name, 0.0)
        _histogram(axis, values, maximum, f"{name} (of {maximum:g})")
    _histogram(flat[panels - 1], report.totals, report.total_max,
               f"total (of {report.total_max:g})")
    for axis in flat[panels:]:
        axis.set_visible(False)
    return _png(figure)


def pass_rate_figure(report: ClassReport) -> str:
    """Per test cell: share of students passing, of visible and of hidden checks passed."""
    cells = report.cells
    names = [f"{cell.notebook[:2]} {cell.grade_id}" for cell in cells]
    series = [
        ("cell passed", [_share(c.passed, c.judged) for c in cells], "#4c72b0"),
        ("visible checks", [_share(c.visible_passed, c.visible_total) for c in cells], "#55a868"),
        ("hidden checks", [_share(c.hidden_passed, c.hidden_total) for c in cells], "#c44e52"),
    ]
    figure = _figure(9, 0.45 * len(cells) + 1.2)
    axis = figure.subplots()
    height = 0.27
    for offset, (label, values, colour) in enumerate(series):
        positions = [i + (offset - 1) * height for i in range(len(cells))]
        axis.barh(positions, [100 * (v or 0) for v in values], height=height, label=label,
                  color=colour)
    axis.set_yticks(range(len(cells)), names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% passed")
    axis.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, fontsize=8, frameon=False)
    return _png(figure)


def hidden_failure_figure(report: ClassReport) -> str:
    """The hidden checks failed most often, by label: share of the students who ran them."""
    failures = report.hidden_failures
    figure = _figure(9, 0.4 * len(failures) + 1.0)
    axis = figure.subplots()
    labels = [_short(f.label, 70) for f in failures]
    axis.barh(range(len(failures)), [100 * f.failed / f.ran for f in failures], color=FAIL_COLOUR)
    axis.set_yticks(range(len(failures)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of students whose hidden checks ran who failed it")
    return _png(figure)


def time_figure(report: ClassReport) -> str:
    """Grading seconds per student (histogram)."""
    figure = _figure(6, 2.6)
    axis = figure.subplots()
    values = list(report.seconds.values())
    axis.hist(values, bins=min(20, max(1, len(values))), color=BAR_COLOUR, edgecolor="white")
    axis.set_xlabel("seconds to grade one student")
    axis.set_ylabel("students")
    axis.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def _share(part, whole):
    return part / whole if whole else None


def _percent(part, whole):
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "n/a"


def _short(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def at_a_glance(report: ClassReport) -> list[str]:
    """A few lines of HTML (already escaped): the weakest test cells, the hidden checks
    failed most often, the statuses."""
    e = html.escape
    lines = []
    weakest = sorted((c for c in report.cells if c.judged), key=lambda c: c.passed / c.judged)
    for cell in weakest[:3]:
        if cell.passed < cell.judged:
            lines.append(f"Test cell <b>{e(cell.grade_id)}</b> ({e(cell.notebook)}): passed by "
                         f"{_percent(cell.passed, cell.judged)} of the students judged.")
    for failure in report.hidden_failures[:3]:
        lines.append(f"Hidden check failed by {_percent(failure.failed, failure.ran)}: "
                     f"<b>{e(failure.label)}</b> ({e(failure.grade_id)}).")
    counts = ", ".join(f"{len(ids)} {e(group)}" for group, ids in report.statuses.items())
    if counts:
        lines.append(f"Statuses: {counts}.")
    return lines


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .6em; text-align: left;
  border-bottom: 1px solid #eee; vertical-align: top; } td.n { text-align: right; }
img { max-width: 100%; } .low { color: #c2185b; font-weight: 600; } .note { color: #555; }
@media print { h2 { break-after: avoid; } img, table { break-inside: avoid; } }
"""
# Scripts are refused outright, whatever text reached the page; images only as data URLs.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# A cell whose pass rate is below this is shown in colour.
LOW_PASS_RATE = 0.5


def render_html(report: ClassReport) -> str:
    """The page, as HTML text; every string from the class is escaped."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>Class report: {e(report.assignment)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Class report: {e(report.assignment)}</h1>",
        f"<p>{report.students} students graded"
        + (f"; {report.manual_pending} still wait for manual grading in Formgrader"
           if report.manual_pending else "")
        + (f"; no submission from {len(report.not_submitted)}: "
           f"{e(', '.join(report.not_submitted))}" if report.not_submitted else "")
        + ".</p>",
    ]
    glance = at_a_glance(report)
    if glance:
        parts.append("<h2>At a glance</h2><ul>")
        parts += [f"<li>{line}</li>" for line in glance]
        parts.append("</ul>")
    if report.students:
        parts += ["<h2>Scores</h2>", f'<img alt="score histograms" src="{score_figures(report)}">']
    parts += ["<h2>Test cells: who passed, visible and hidden checks apart</h2>"]
    if report.cells:
        parts.append(f'<img alt="pass rate per test cell" src="{pass_rate_figure(report)}">')
        parts.append("<table><tr><th>notebook</th><th>test cell</th><th>cell passed</th>"
                     "<th>visible checks passed</th><th>hidden checks passed</th>"
                     "<th>hidden not run</th></tr>")
        for cell in report.cells:
            low = (cell.passed / cell.judged) < LOW_PASS_RATE if cell.judged else False
            parts.append(
                f"<tr><td>{e(cell.notebook)}</td><td>{e(cell.grade_id)}</td>"
                f'<td class="n{" low" if low else ""}">{_percent(cell.passed, cell.judged)}</td>'
                f'<td class="n">{_percent(cell.visible_passed, cell.visible_total)}</td>'
                f'<td class="n">{_percent(cell.hidden_passed, cell.hidden_total)}</td>'
                f'<td class="n">{cell.hidden_not_run}</td></tr>'
            )
        parts.append('</table><p class="note">Hidden checks run only when a cell\'s visible '
                     "checks pass; \"hidden not run\" counts the students they never ran for."
                     "</p>")
    else:
        parts.append("<p>No test cell was judged in this run.</p>")
    parts.append("<h2>Hidden checks failed most often</h2>")
    if report.hidden_failures:
        parts.append(f'<img alt="hidden checks failed most often" '
                     f'src="{hidden_failure_figure(report)}">')
        parts.append("<table><tr><th>check</th><th>test cell</th><th>failed</th></tr>")
        for failure in report.hidden_failures:
            parts.append(
                f"<tr><td>{e(failure.label)}</td><td>{e(failure.notebook)} "
                f"{e(failure.grade_id)}</td>"
                f'<td class="n">{_percent(failure.failed, failure.ran)}</td></tr>'
            )
        parts.append("</table>")
    else:
        parts.append("<p>Every hidden check that ran passed.</p>")
    parts.append("<h2>Statuses</h2>")
    if report.statuses:
        parts.append("<table><tr><th>group</th><th>students</th><th>who</th></tr>")
        for group in GROUPS:
            ids = report.statuses.get(group)
            if ids:
                shown = ", ".join(ids[:NAMED_PER_GROUP])
                if len(ids) > NAMED_PER_GROUP:
                    shown += f" and {len(ids) - NAMED_PER_GROUP} more"
                parts.append(f'<tr><td>{e(group)}</td><td class="n">{len(ids)}</td>'
                             f"<td>{e(shown)}</td></tr>")
        parts.append('</table><p class="note">Each student\'s status in words is in '
                     "grades.csv.</p>")
    else:
        parts.append("<p>Nothing unusual: every student was graded without a problem.</p>")
    parts.append("<h2>Grading time per student</h2>")
    if report.seconds:
        slowest = sorted(report.seconds.items(), key=lambda item: -item[1])[:SLOWEST_SHOWN]
        parts.append(f'<img alt="grading time per student" src="{time_figure(report)}">')
        parts.append("<table><tr><th>slowest</th><th>seconds</th></tr>")
        parts += [f'<tr><td>{e(s)}</td><td class="n">{t:.1f}</td></tr>' for s, t in slowest]
        parts.append("</table>")
    else:
        parts.append("<p>No student was graded in this run's records.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path, report: ClassReport) -> Path:
    """Write the page atomically; return its path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    os.replace(tmp, path)
    return path


def notebook_maxima(db_url: str, course_id: str, assignment: str) -> dict[str, float]:
    """Each notebook's maximum score (name without ``.ipynb``), from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gradebook:
        found = gradebook.find_assignment(assignment)
        return {nb.name: float(nb.max_score or 0.0) for nb in sorted(found.notebooks,
                                                                     key=lambda n: n.name)}


def write_class_report(out, rows: Sequence, state: Mapping, db_url: str, course_id: str,
                       assignment: str, sandboxed: bool = True) -> Path:
    """Build and write ``out/report.html`` from the rows and the grader's state.

    ``state["students"][id]["report"]`` holds each student's :func:`student_entry`: the
    students left unchanged by this run keep theirs, so the page covers the whole class.
    """
    records = {
        student_id: student_record(student_id, entry.get("report"))
        for student_id, entry in (state.get("students") or {}).items()
    }
    data = build(rows, records, notebook_maxima(db_url, course_id, assignment), sandboxed)
    return write_report(Path(out) / REPORT_FILE, data)
