"""An nbgrader course folder driven through nbgrader's Python API, in this process."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sys
from collections.abc import Iterator
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
