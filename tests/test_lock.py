"""gitops_tools/requirements.lock: what the CI templates install beside the GitOps repository's write token
(`pip install --require-hashes --no-deps`), so that a dependency replaced on the index, or a release nobody
reviewed, is refused rather than run. It must pin every dependency of pyproject.toml at a version the
specifier allows, each with the hashes of its files; the templates' jobs install it for real
(tests/test_gitlab_ci.py, tests/test_service_pipeline.py) and the published wheel carries it
(tests/test_publish.py)."""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

LOCK = ROOT / "gitops_tools/requirements.lock"


def locked(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, its sha256 hashes), from a pip-compile --generate-hashes file."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pin = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s\\]+)\s*\\?", stripped)
        if pin:
            current = canonicalize_name(pin.group(1))
            assert current not in entries, f"{current} is locked twice"
            entries[current] = (Version(pin.group(2)), [])
            continue
        digest = re.fullmatch(r"--hash=sha256:([0-9a-f]{64})\s*\\?", stripped)
        assert digest and current, f"{path.name}: not a pin or a hash: {line!r}"
        entries[current][1].append(digest.group(1))
    return entries


def test_every_dependency_is_locked_at_a_version_it_allows_with_the_hashes_of_its_files() -> None:
    project = tomlkit.parse((ROOT / "pyproject.toml").read_text(encoding="utf-8")).unwrap()["project"]
    lock = locked(LOCK)
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is a dependency but not in {LOCK.name}: run the pip-compile command it names"
        version, _ = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, str(version), text)
    for name, (_, hashes) in lock.items():
        assert hashes, f"{name} has no hash"
        assert len(set(hashes)) == len(hashes), f"{name}: a hash listed twice"


def test_the_lock_says_how_it_was_made() -> None:
    head = LOCK.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "pip-compile --generate-hashes" in head and "-o gitops_tools/requirements.lock pyproject.toml" in head


def test_the_templates_install_the_dependencies_from_the_lock_alone() -> None:
    """The install step: gitops-tools without its dependencies, then the lock with every hash checked; an extra
    (the publish job's build and twine, pinned by version) only when a job asks for one."""
    script = (ROOT / "ci/templates.gitlab-ci.yml").read_text(encoding="utf-8")
    assert 'pip install --quiet --no-deps "git+$GITOPS_TOOLS_SOURCE"' in script
    assert 'pip install --quiet --no-deps "gitops-tools==$GITOPS_TOOLS_VERSION"' in script
    assert 'pip install --quiet --require-hashes --no-deps -r "$lock"' in script
    assert 'pip install --quiet "gitops-tools$GITOPS_TOOLS_EXTRAS"' not in script.replace(
        'if [ -n "$GITOPS_TOOLS_EXTRAS" ]; then pip install --quiet "gitops-tools$GITOPS_TOOLS_EXTRAS"', "")


def test_a_pin_without_a_hash_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.lock"
    bad.write_text("click==8.1.7 \\\n    --hash=sha256:" + "a" * 64 + "\nsemver==3.0.2\n")
    lock = locked(bad)
    assert lock["semver"][1] == [] and lock["click"][1] == ["a" * 64]
