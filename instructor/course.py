"""An nbgrader course folder driven through nbgrader's Python API, in this process."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO_ROOT / "nbgrader_config.py"
SOURCE_ROOT = REPO_ROOT / "notebooks"


class GradingError(RuntimeError):
    """Grading itself cannot run (as opposed to one submission being broken)."""


def ensure_tools_on_path() -> None:
    """Put this interpreter's bin directory first on PATH when `alembic` is not found.

    nbgrader shells out to `alembic` to create the gradebook; with the venv not
    activated that fails with FileNotFoundError deep inside nbgrader.
    """
    if shutil.which("alembic") is None:
        bin_dir = str(Path(sys.executable).parent)
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def quiet_known_warnings() -> None:
    """Hide the SQLAlchemy SAWarnings nbgrader 0.9.6 raises on every autograde.

    They come from nbgrader's gradebook session handling under SQLAlchemy 2 and do not
    affect the grades; on the command line they bury the progress lines.
    """
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)


def find_assignment(source_root: Path, assignment: str | None = None) -> str:
    """Return the assignment name: `assignment` if given, else the only folder of `source_root`.

    Parameters
    ----------
    source_root : Path
        Folder holding one sub-folder of source notebooks per assignment.
    assignment : str, optional
        Name to check instead of guessing.

    Returns
    -------
    str
        The assignment name.

    Raises
    ------
    GradingError
        When the folder is missing, holds no notebooks, or holds several assignments.
    """
    source_root = Path(source_root)
    if not source_root.is_dir():
        raise GradingError(f"source folder {source_root} does not exist")
    folders = sorted(p.name for p in source_root.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if assignment is None:
        if len(folders) != 1:
            raise GradingError(
                f"expected exactly one assignment folder with notebooks in {source_root}, "
                f"found {folders or 'none'}; pass the assignment name"
            )
        return folders[0]
    if assignment not in folders:
        raise GradingError(
            f"assignment {assignment!r} has no notebooks in {source_root}; found {folders}"
        )
    return assignment


def notebook_names(folder: Path) -> list[str]:
    """Return the sorted file names of the notebooks directly inside `folder`."""
    return sorted(p.name for p in Path(folder).glob("*.ipynb"))


def load_config(root: Path, config_file: Path = CONFIG_FILE, db_url: str | None = None) -> Config:
    """Read the repository's nbgrader settings and point them at the course root `root`.

    Parameters
    ----------
    root : Path
        Course root: nbgrader's `notebooks/`, `release/`, `submitted/`, `autograded/`
        and `feedback/` folders live under it.
    config_file : Path
        An nbgrader_config.py.
    db_url : str, optional
        Gradebook URL; default is the sqlite file `root/gradebook.db`.

    Returns
    -------
    traitlets.config.Config
    """
    config_file = Path(config_file)
    if not config_file.is_file():
        raise GradingError(f"nbgrader config {config_file} does not exist")
    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    root = Path(root).resolve()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    _require_scrubbed_feedback(config)
    _require_safe_pages(config)
    return config


def _require_scrubbed_feedback(config: Config) -> None:
    """Refuse a config whose feedback could quote hidden tests.

    nbgrader_config.py is the one place the feedback chain is set (Formgrader reads it too):
    ScrubHiddenTracebacks must run before ClearHiddenTests, which it needs to find them.
    """
    from nbgrader.preprocessors import ClearHiddenTests

    from instructor.feedback import ScrubHiddenTracebacks

    chain = list(config.GenerateFeedback.get("preprocessors", []))
    if not (
        ScrubHiddenTracebacks in chain
        and ClearHiddenTests in chain
        and chain.index(ScrubHiddenTracebacks) < chain.index(ClearHiddenTests)
    ):
        raise GradingError(
            f"{CONFIG_FILE.name} must list ScrubHiddenTracebacks before ClearHiddenTests in "
            "GenerateFeedback.preprocessors (feedback would show hidden tests); it lists "
            f"{[p.__name__ for p in chain]}"
        )


def _require_safe_pages(config: Config) -> None:
    """Refuse a config whose feedback or Formgrader pages could run a student's script."""
    from instructor.feedback import InertOutputMetadata, SanitizedMarkdown

    exporter = config.HTMLExporter
    missing = [
        setting
        for setting, present in [
            ("HTMLExporter.sanitize_html = True", exporter.get("sanitize_html") is True),
            ('HTMLExporter.filters = {"markdown2html": SanitizedMarkdown}',
             exporter.get("filters", {}).get("markdown2html") is SanitizedMarkdown),
            ("InertOutputMetadata in HTMLExporter.preprocessors",
             InertOutputMetadata in exporter.get("preprocessors", [])),
        ]
        if not present
    ]
    if missing:
        raise GradingError(
            f"{CONFIG_FILE.name} lacks {'; '.join(missing)}: feedback and Formgrader pages "
            "would run script a student wrote or displayed"
        )


# A course folder's nbgrader_config.py: it loads the repository's instead of copying it, since
# a copy would look for `instructor` (the feedback scrubber) beside itself and not find it.
COURSE_CONFIG = """\
\"\"\"nbgrader settings for this course folder: the repository's, loaded from where they are.\"\"\"

from pathlib import Path

REPOSITORY_CONFIG = Path({config_file!r})
if not REPOSITORY_CONFIG.is_file():
    raise FileNotFoundError(f"{{REPOSITORY_CONFIG}} is gone; recreate this folder")
load_subconfig(REPOSITORY_CONFIG.name, str(REPOSITORY_CONFIG.parent))
c = get_config()
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
"""


def write_course_config(root: Path, config_file: Path = CONFIG_FILE, db_url: str | None = None):
    """Write ``root/nbgrader_config.py`` that applies the repository's nbgrader settings.

    Parameters
    ----------
    root : Path
        A course folder (grading output, a test's JupyterLab root).
    config_file : Path
        The repository's nbgrader_config.py.
    db_url : str, optional
        A gradebook other than ``root/gradebook.db``.
    """
    settings = COURSE_CONFIG.format(config_file=str(Path(config_file).resolve()))
    if db_url:
        settings += f"c.CourseDirectory.db_url = {db_url!r}\n"
    (Path(root) / "nbgrader_config.py").write_text(settings)


def open_api(config: Config):
    """Return an `NbGraderAPI` on the course described by `config`."""
    ensure_tools_on_path()
    # Imported here: nbgrader pulls in the whole Jupyter stack, which `--help` does not need.
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(CourseDirectory(config=config), config=config)


def require(result: dict, action: str) -> str:
    """Return the log of an nbgrader API call, or raise when it did not succeed.

    The API never raises; it reports {"success": bool, "log": str, "error": str}.
    """
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "no log").strip()
        raise GradingError(f"{action} failed:\n{detail}")
    return result.get("log", "")


@contextlib.contextmanager
def only_notebook(api, notebook: str) -> Iterator[None]:
    """Restrict nbgrader's converters to one notebook (file name) while the block runs.

    nbgrader's converters read `CourseDirectory.notebook_id` as a glob; when one
    notebook of a student fails with `notebook_id = "*"`, nbgrader throws away the
    whole student's autograded folder.
    """
    old = api.coursedir.notebook_id
    api.coursedir.notebook_id = glob.escape(Path(notebook).stem)
    try:
        yield
    finally:
        api.coursedir.notebook_id = old


def generate_assignment(api, assignment: str) -> str:
    """Run nbgrader generate_assignment (release + gradebook entries); return its log."""
    result = api.generate_assignment(assignment, force=True, create=True)
    text = (result.get("log") or "") + (result.get("error") or "")
    if not result.get("success") and "there are submissions associated" in text:
        raise GradingError(
            f"the source notebooks of {assignment} gained or lost cells since this gradebook "
            f"graded submissions ({api.coursedir.db_url}); nbgrader cannot change a graded "
            "assignment's cells: grade into a new --out folder"
        )
    return require(result, f"nbgrader generate_assignment {assignment}")


@dataclass
class Course:
    """A course folder (``OUT``) ready to grade one assignment into.

    Attributes
    ----------
    root : Path
        The course folder: nbgrader's ``notebooks/``, ``release/``, ``submitted/``,
        ``autograded/`` and ``feedback/`` live under it, and the ledger.
    assignment : str
    notebooks : list of str
        The assignment's notebook file names, sorted.
    config : traitlets.config.Config
        The repository's nbgrader settings, pointed at ``root`` and the gradebook.
    sandbox : bool
        Student code runs in the sandbox (False only for a trusted class).
    """

    root: Path
    assignment: str
    notebooks: list[str]
    config: Config
    sandbox: bool = True

    @property
    def db_url(self) -> str:
        return self.config.CourseDirectory.db_url

    @property
    def course_id(self) -> str:
        return self.config.CourseDirectory.course_id

    @property
    def source_dir(self) -> Path:
        """The course folder's copy of the instructor's notebooks."""
        return self.root / "notebooks" / self.assignment

    @property
    def release_dir(self) -> Path:
        return self.root / "release" / self.assignment

    def student_dir(self, kind: str, student_id: str) -> Path:
        """``root/<kind>/<student_id>/<assignment>`` (kind: submitted, autograded, feedback)."""
        return self.root / kind / student_id / self.assignment

    def sources(self) -> dict[str, dict]:
        """The instructor's source notebooks as plain data (what workers judge with)."""
        return {
            name: json.loads((self.source_dir / name).read_text(encoding="utf-8"))
            for name in self.notebooks
        }


def setup_course(
    out: Path,
    ledger,
    source_root: Path = SOURCE_ROOT,
    config_file: Path = CONFIG_FILE,
    assignment: str | None = None,
    db_url: str | None = None,
    sandbox: bool = True,
) -> Course:
    """Make ``out`` a course folder for grading, (re)generating the assignment when needed.

    The sources are copied and checked against what the gradebook was generated from on
    every run: the copied sources, every released notebook, and the gradebook's record of
    each test and locked cell, so that nothing changed between runs grades the class. When
    anything drifted, nbgrader generates the assignment again and ``ledger`` is reset:
    everyone is graded again.

    Raises
    ------
    GradingError
        No sandbox (unless ``sandbox`` is False), missing sources, or nbgrader failed.
    """
    from instructor.nbgrader_adapter import share_gradebook_engines
    from instructor.submissions import SKIP_NAMES, content_hash

    source_root = Path(source_root)
    assignment = find_assignment(source_root, assignment)
    if sandbox:
        from instructor.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem:
            raise GradingError(
                f"no working sandbox for student code: {problem}\n"
                "Only for a class whose code you trust: make grade ... NO_SANDBOX=1 "
                "(python -m instructor.grade --no-sandbox)."
            )
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    share_gradebook_engines()  # the grader opens the gradebook many times
    config = load_config(out, config_file, db_url)
    course = Course(out, assignment, notebook_names(source_root / assignment), config, sandbox)
    if course.source_dir.exists():
        shutil.rmtree(course.source_dir)
    shutil.copytree(
        source_root / assignment, course.source_dir, ignore=shutil.ignore_patterns(*SKIP_NAMES)
    )
    # Formgrader run in OUT must grade the written answers with the repository's settings.
    write_course_config(out, config_file, db_url)
    source_hash = content_hash(course.source_dir, salt=Path(config_file).read_text())
    fresh = (
        ledger.state.get("source_hash") == source_hash
        and ledger.state.get("release_hash") is not None
        and course.release_dir.is_dir()
        and notebook_names(course.release_dir) == course.notebooks
        and ledger.state["release_hash"] == content_hash(course.release_dir)
        and _gradebook_matches(course)
    )
    if not fresh:
        generate_assignment(open_api(config), assignment)
        ledger.reset(source_hash, content_hash(course.release_dir))
    if notebook_names(course.release_dir) != course.notebooks:
        raise GradingError(f"nbgrader did not release every notebook into {course.release_dir}")
    return course


def _gradebook_matches(course: Course) -> bool:
    """The gradebook has the assignment, and its record of every test and locked cell has
    the source notebooks' text.

    nbgrader restores those cells from the gradebook into every submission, so a changed
    record would change what every later student is graded with. (Answer cells are recorded
    as their stubs: nothing to compare.)
    """
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    from instructor.cells import is_locked

    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            gb.find_assignment(course.assignment)
        except MissingEntry:
            return False
        for name in course.notebooks:
            nb = nbformat.read(course.source_dir / name, as_version=4)
            for cell in nb.cells:
                if not is_locked(cell):
                    continue
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                try:
                    stored = gb.find_source_cell(grade_id, Path(name).stem, course.assignment)
                except MissingEntry:
                    return False
                if stored.source.strip() != cell.source.strip():
                    return False
    return True
