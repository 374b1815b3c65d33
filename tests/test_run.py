"""instructor/run.py: what follows a notebook's run, on the worker (scores, comments, pages).

The run itself (sandbox and judge) is tested in test_execution, test_sandbox and test_judge;
here a judged notebook is made by hand, and run.finish must score it as nbgrader would.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from instructor import judge, run
from instructor.cells import grade_id, hidden_lines, is_answer, is_test
from instructor.course import REPO_ROOT, SOURCE_ROOT, find_assignment
from instructor.problems import Problem

ASSIGNMENT = find_assignment(SOURCE_ROOT)
NAME = sorted(path.name for path in (SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))[0]
JOB = {"student_id": "ada", "assignment": ASSIGNMENT, "autograded_dir": "/nowhere"}


def judged(passed: list[bool], answer_error: str | None = None):
    """The released notebook, its tests judged as ``passed`` says, one answer raising."""
    nb = nbformat.read(REPO_ROOT / "release" / ASSIGNMENT / NAME, as_version=4)
    tests = [cell for cell in nb.cells if is_test(cell)]
    for cell, ok in zip(tests, passed, strict=True):
        verdict = judge.Verdict(grade_id(cell), ok, "checked\n", None if ok else "CheckFailed: x")
        cell.outputs = [nbformat.from_dict(o) for o in judge.verdict_outputs(verdict)]
    if answer_error:
        answer = next(c for c in nb.cells if is_answer(c) and c.cell_type == "code")
        answer.outputs = [nbformat.v4.new_output("error", ename=answer_error, evalue="",
                                                 traceback=[])]
    return nb, tests


def points(cell) -> float:
    return float(cell.metadata.nbgrader["points"])


def test_scores_follow_nbgrader_a_failed_check_zero_a_passed_one_full():
    nb, tests = judged([True, False, True])
    result = run.finish(nb, NAME, JOB, [])
    assert [result.scores[grade_id(c)] for c in tests] == [points(tests[0]), 0, points(tests[2])]
    # Answers graded by hand have no automatic score.
    written = [k for k, v in result.scores.items() if v is None]
    assert all(k not in {grade_id(c) for c in tests} for k in written)


def test_an_unchanged_answer_is_commented_no_response():
    nb, _ = judged([False, False, False])
    result = run.finish(nb, NAME, JOB, [])
    assert result.comments and set(result.comments.values()) == {"No response."}


def test_an_answer_that_raised_is_named_but_a_time_out_is_the_run_s_to_name():
    nb, _ = judged([True, True, True], answer_error="SyntaxError")
    result = run.finish(nb, NAME, JOB, [Problem("run", NAME, "it said so")])
    assert [p.kind for p in result.problems] == ["run", "answer_errors"]
    assert result.problems[1].detail.endswith("(SyntaxError)")
    nb, _ = judged([True, True, True], answer_error="CellTimeoutError")
    assert run.finish(nb, NAME, JOB, []).problems == []


def test_the_feedback_page_shows_the_scores_and_no_hidden_test():
    source = nbformat.read(SOURCE_ROOT / ASSIGNMENT / NAME, as_version=4)
    hidden = [
        line for cell in source.cells if is_test(cell) for line in hidden_lines(cell.source)
        if len(line) > 15  # not a lone ")"
    ]
    nb, tests = judged([True, False, True])
    # The instructor's test cells, hidden block included, as the judged notebook has them.
    for cell in tests:
        cell.source = next(c.source for c in source.cells if grade_id(c) == grade_id(cell))
    page = run.finish(nb, NAME, JOB, []).feedback
    assert f"Score: {points(tests[0]):.1f} / {points(tests[0]):.1f}" in page
    assert hidden and not [line for line in hidden if line in page]


def test_a_result_is_plain_data_and_comes_back_the_same():
    nb, _ = judged([True, False, True])
    result = run.finish(nb, NAME, JOB, [Problem("run", NAME, "x")])
    data = json.loads(json.dumps(result.as_data()))
    assert run.NotebookResult.from_data(data) == result
    assert nbformat.reads(result.notebook, as_version=4).cells


def test_a_worker_without_a_sandbox_refuses_the_job(monkeypatch):
    from instructor import sandbox

    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bwrap is not installed")
    with pytest.raises(run.WorkerProblem, match="bwrap is not installed"):
        run.run_job({"sandboxed": True, "notebooks": {}}, {})


def test_a_job_that_raises_fails_alone_when_run_here(monkeypatch):
    from instructor import sandbox, workers

    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bwrap is not installed")
    jobs = [("a", {"sandboxed": True, "notebooks": {}}), ("b", {"sandboxed": False,
                                                             "notebooks": {}})]
    outcomes = list(workers.run_here(jobs, {}))
    assert outcomes[0][0] == "a" and outcomes[0][1] is None
    assert outcomes[0][2].startswith("WorkerProblem: ") and "bwrap" in outcomes[0][2]
    assert outcomes[1] == ("b", {}, None)
