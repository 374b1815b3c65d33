"""`make release`: regenerate the student copies in release/ from notebooks/ with nbgrader.

nbgrader removes solutions (leaving stubs), hidden tests and outputs, and locks the
read-only cells. The result is committed; `tests/test_release.py` fails when it drifts
from what this module generates.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from instructor.course import (
    REPO_ROOT,
    GradingError,
    find_assignment,
    generate_assignment,
    load_config,
    open_api,
)

RELEASE_README = """\
# release/ (generated; do not edit)

The student copies of the notebooks, generated from `notebooks/` by `make release`
(nbgrader generate_assignment): no solutions, no hidden tests, no outputs.

Edit the notebooks in `notebooks/`, then run `make release` and commit both.
A test fails when this folder differs from a fresh regeneration.
"""


def generate_release(repo_root: Path = REPO_ROOT, out: Path | None = None) -> Path:
    """Generate the student release of the (single) assignment in ``notebooks/``.

    Parameters
    ----------
    repo_root : Path
        The repository: its ``notebooks/`` and ``nbgrader_config.py`` are read.
    out : Path, optional
        Where the release folder goes; default ``repo_root / "release"``. Anything else
        is generated in a scratch course folder that is removed afterwards, so the
        repository's gradebook is not touched.

    Returns
    -------
    Path
        The generated ``<out>/<assignment>`` folder.
    """
    repo_root = Path(repo_root)
    assignment = find_assignment(repo_root / "notebooks")
    if out is None or Path(out).resolve() == (repo_root / "release").resolve():
        _generate(repo_root, assignment)
        out = repo_root / "release"
    else:
        with tempfile.TemporaryDirectory(prefix="release-") as scratch:
            shutil.copytree(repo_root / "notebooks", Path(scratch) / "notebooks")
            _generate(Path(scratch), assignment)
            Path(out).mkdir(parents=True, exist_ok=True)
            shutil.rmtree(Path(out) / assignment, ignore_errors=True)
            shutil.copytree(Path(scratch) / "release" / assignment, Path(out) / assignment)
    (Path(out) / "README.md").write_text(RELEASE_README)
    return Path(out) / assignment


def _generate(course_root: Path, assignment: str) -> None:
    """Run nbgrader generate_assignment in ``course_root`` (gradebook in that folder)."""
    api = open_api(load_config(course_root))
    generate_assignment(api, assignment)


def main() -> int:
    """Regenerate release/ and say what was written."""
    try:
        folder = generate_release()
    except GradingError as exc:
        print(f"make release: {exc}", file=sys.stderr)
        return 1
    for notebook in sorted(folder.glob("*.ipynb")):
        print(f"wrote {notebook.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
