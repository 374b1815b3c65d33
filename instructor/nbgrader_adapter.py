"""nbgrader's autograde step with the sandboxed kernel and the trusted judge plugged in.

``TrustedExecute`` takes the place of nbgrader's ``Execute`` in
``c.Autograde.autograde_preprocessors`` (see nbgrader_config.py), so nbgrader's own
sanitizing before it (restoring locked and test cells from the gradebook) and its scoring,
gradebook writes and feedback after it stay as they are. What it changes:

- the kernel runs in the sandbox (unless ``TrustedExecute.sandbox = False``);
- test cells run on the grader's side, from the instructor's source notebook, and their
  outputs are the judge's report alone (so no stderr of the student's, and no text the
  student printed, can change a score);
- what happened (time-outs, a dead kernel, output cut) is written beside the graded notebook
  as ``.judge-<notebook>.json`` for the grader's status column.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import traceback
from pathlib import Path

import jsonschema
import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    OverwriteCells,
    OverwriteKernelspec,
)
from traitlets import Bool, List, Unicode

from instructor import execution

REPORT_PREFIX = ".judge-"


# jsonschema validators of nbgrader's cell schemas, by schema version.
_SCHEMA_VALIDATORS: dict[int, object] = {}


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's schema validation of one cell's metadata, the schema itself checked once.

    ``jsonschema.validate``, which nbgrader calls for every cell, first checks the schema
    against its metaschema: three quarters of an autograde's time went there. Every cell
    is still validated against the schema; a cell of another schema version goes to
    nbgrader's own code, and its own errors.
    """

    def validate_cell(self, cell):
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        validator = _SCHEMA_VALIDATORS.get(self.schema_version)
        if validator is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            validator = _SCHEMA_VALIDATORS[self.schema_version] = kind(self.schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(meta))
        if error is not None:
            raise error
        return None


class FastMetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's MetadataValidator (all its rules) over the once-checked schema."""


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's CheckCellMetadata, validating with :class:`FastMetadataValidator`."""

    def preprocess(self, nb, resources):
        try:
            FastMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources


# nbgrader's default sanitizing chain (Autograde.sanitize_preprocessors), metadata checked
# by the faster, equivalent preprocessor.
SANITIZE = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadataOnce
]

# Runs done elsewhere (on workers), keyed by student, notebook and the hash of the sanitized
# notebook they ran: TrustedExecute replays them instead of running the notebook again.
PRECOMPUTED: dict[str, dict] = {}


def notebook_key(nb) -> str:
    """A hash of a notebook's content, the same for a notebook and its JSON round trip."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = execution.notebook_from_data(nb)
    text = json.dumps(nb, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def precomputed_key(student, notebook, nb) -> str:
    """The key of a run in :data:`PRECOMPUTED`: who, which notebook, and exactly what ran."""
    return f"{student}/{notebook}/{notebook_key(nb)}"


def sanitize(nb, config, student, assignment, notebook, db_url):
    """Apply nbgrader's sanitizing preprocessors, as autograde does before executing.

    Returns the notebook TrustedExecute will receive when nbgrader autogrades this
    submission, so that it can be run on a worker first (see :data:`PRECOMPUTED`).
    """
    chain = config.Autograde.get("sanitize_preprocessors", SANITIZE)
    resources = {
        "unique_key": notebook,
        "nbgrader": {
            "student": student,
            "assignment": assignment,
            "notebook": notebook,
            "db_url": db_url,
        },
    }
    nb = copy.deepcopy(nb)
    for kind in chain:
        nb, resources = kind(config=config).preprocess(nb, resources)
    return nbformat.reads(nbformat.writes(nb), as_version=4)


def share_gradebook_engines() -> None:
    """Give every nbgrader Gradebook of this process one SQLAlchemy engine per database URL.

    nbgrader's ``Gradebook`` creates an engine each time it is opened (some forty times per
    student while grading: autograde, its preprocessors, feedback) and disposes of it on
    close. SQLAlchemy caches compiled SQL per engine, so every query was compiled again each
    time. A shared engine keeps that cache; closing a Gradebook still closes its connections
    (``dispose`` empties the pool, and the engine makes a new one when next used).
    """
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "shared_per_url", False):
        return
    # nbgrader passes the URL and hashable options (echo, future): they are the cache's key.
    shared_engine = functools.cache(nbgrader.api.create_engine)
    shared_engine.shared_per_url = True
    nbgrader.api.create_engine = shared_engine


def report_path(autograded_folder: Path, notebook: str) -> Path:
    """Where TrustedExecute leaves its report for ``notebook`` (a name without .ipynb)."""
    return Path(autograded_folder) / f"{REPORT_PREFIX}{notebook}.json"


class TrustedExecute(Execute):
    """Run a submission in the sandbox and judge its test cells outside it."""

    sandbox = Bool(
        True, help="Run student kernels in the bubblewrap sandbox (False only for a trusted class)."
    ).tag(config=True)
    hide = List(
        Unicode(), help="Folders the kernel must not see (the course folder is always hidden)."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Execute ``nb`` and replace its test cells' outputs with the judge's reports."""
        info = resources["nbgrader"]
        done = PRECOMPUTED.pop(precomputed_key(info["student"], info["notebook"], nb), None)
        if done is None:
            source_nb = self._source_notebook(info["assignment"], info["notebook"])
            coursedir = CourseDirectory(config=self.config)
            done = execution.execute_and_judge(
                nb,
                source_nb,
                sandboxed=self.sandbox,
                timeout=self.timeout,
                hide=[coursedir.root, *self.hide],
            ).as_data()
        folder = resources.get("metadata", {}).get("path")
        if folder:
            report = {key: done[key] for key in ("problems", "failed_tests")}
            report["sandbox"] = bool(self.sandbox)
            report_path(folder, info["notebook"]).write_text(json.dumps(report, indent=1))
        return execution.notebook_from_data(done["notebook"]), resources

    def _source_notebook(self, assignment, notebook):
        """The instructor's copy: the course folder's source notebook (never the student's)."""
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        return nbformat.read(path / f"{notebook}.ipynb", as_version=4)
