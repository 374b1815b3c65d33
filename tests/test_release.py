"""The student release: generated from notebooks/, in sync, stripped, and failing when blank."""

import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator

from instructor import cells
from instructor.release import generate_release

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "release" / "gradient_checking"
SOURCE = ROOT / "notebooks" / "gradient_checking"
NAMES = sorted(p.name for p in SOURCE.glob("*.ipynb"))


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """release/ regenerated from notebooks/ in a scratch folder."""
    return generate_release(out=tmp_path_factory.mktemp("release"))


@pytest.mark.slow
def test_committed_release_matches_a_fresh_regeneration(fresh_release):
    """nbgrader's output is deterministic here, so the files must be identical byte for byte."""
    assert sorted(p.name for p in fresh_release.glob("*.ipynb")) == NAMES
    assert sorted(p.name for p in RELEASE.glob("*.ipynb")) == NAMES
    for name in NAMES:
        committed = json.loads((RELEASE / name).read_text())
        regenerated = json.loads((fresh_release / name).read_text())
        assert committed == regenerated, f"release/{name} is stale: run `make release`"
    assert (RELEASE.parent / "README.md").read_text().startswith("# release/ (generated")


# nbgrader's solution and hidden-test delimiters: none survives the release.
DELIMITERS = (cells.BEGIN_SOLUTION, cells.END_SOLUTION, cells.BEGIN_HIDDEN, cells.END_HIDDEN)


@pytest.mark.parametrize("name", NAMES)
def test_release_has_no_solutions_hidden_tests_or_outputs(name):
    source = {_meta(c).get("grade_id"): c for c in _cells(SOURCE / name) if _meta(c)}
    for cell in _cells(RELEASE / name):
        text = cell.source
        assert not any(marker in text for marker in DELIMITERS), text[:80]
        for method in ("close", "equal", "satisfies"):
            assert f"hidden.{method}(" not in text
        assert "_reference_backward" not in text
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        meta = _meta(cell)
        if cells.is_answer(cell) and cell.cell_type == "code":
            assert "raise NotImplementedError()" in text
            # The signature and docstring stay; only the solution region became a stub.
            assert text.split('"""')[0] == source[meta["grade_id"]].source.split('"""')[0]
        if cells.is_answer(cell) and cell.cell_type == "markdown":
            assert text.strip() == "YOUR ANSWER HERE"
        if cells.is_locked(cell):
            assert cell.metadata.get("editable") is False
            assert cell.metadata.get("deletable") is False


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_graded_test_fails_on_the_blank_release(name):
    """nbgrader validate --invert: no test cell may pass before the student writes code."""
    assert Validator(invert=True).validate(str(RELEASE / name)) == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_instructor_solutions_validate(name):
    assert Validator().validate(str(SOURCE / name)) == {}
