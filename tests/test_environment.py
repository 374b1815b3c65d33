"""environment.yml (conda, Binder) and pyproject.toml (pip) describe the same environment."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _name(name):
    """Normalise a package name the way PyPI does (jupyter_client == jupyter-client)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    return {_name(r.name): str(r.specifier) for r in map(Requirement, requirements)}


def _environment():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry["pip"])
            continue
        name, _, spec = entry.partition(" ")
        conda[_name(name)] = spec.replace(" ", "")
    return environment, conda, pip


def test_both_files_need_the_same_packages_with_the_same_versions():
    _, conda, _ = _environment()
    conda.pop("pip")
    python = conda.pop("python")
    wanted = _pyproject()
    assert sorted(conda) == sorted(wanted), "packages differ between environment.yml and pyproject"
    for name, spec in wanted.items():
        # Specifier sets are unordered: compare them as sets of clauses.
        assert set(conda[name].split(",")) == set(spec.split(",")), name
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == requires


def test_environment_installs_the_kit_itself_from_conda_forge():
    environment, _, pip = _environment()
    assert environment["channels"] == ["conda-forge"]
    assert pip == ["-e ."]
