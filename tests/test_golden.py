"""Golden pairs: `image set` on tests/golden/<case>/before must give exactly the bytes of after/.

Each case holds `args` (TARGET then SPECs and options, one per line), `before/` and `after/`.  The cases
cover every rule of DESIGN §3.3: same-line comments, blank lines and key order, both list indentation styles,
quote styles, CRLF, a missing final newline, `---`/`...`, &anchors and !tags, quoting of values that would
load as non-strings, added entries and keys, removed fields, null values, flow style, block scalars that
look like YAML, Helm values keys that follow an image, and Flux setter markers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_tools.cli import cli
from tests.conftest import GOLDEN, copy_tree, corpus_or_skip, tree_bytes

CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def run_set(cwd: Path, args: list[str]) -> tuple[int, str]:
    """Run `image set` in-process (click's CliRunner) with ``cwd`` as the working directory."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, ["image", "set", *args], catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CASES)
def test_golden_pair(case: str, tmp_path: Path) -> None:
    src = GOLDEN / case
    work = copy_tree(src / "before", tmp_path / case)
    args = (src / "args").read_text().splitlines()
    code, output = run_set(work, args)
    assert code == 0, output
    assert tree_bytes(work) == tree_bytes(src / "after")


@pytest.mark.parametrize("case", CASES)
def test_golden_pair_is_idempotent(case: str, tmp_path: Path) -> None:
    """Applying the same change to the expected result changes nothing and says so."""
    src = GOLDEN / case
    work = copy_tree(src / "after", tmp_path / case)
    args = (src / "args").read_text().splitlines()
    code, output = run_set(work, args)
    assert code == 0, output
    assert tree_bytes(work) == tree_bytes(src / "after")
    assert "wrote" not in output and "committed" not in output


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["Kustomization", "kustomization.yml"])
def test_flux_setter_golden_pair_from_corpus(name: str, tmp_path: Path) -> None:
    """The Flux image-automation-controller's own golden pair, reproduced by `image set`.

    Its directory holds two kustomization files, which kustomize (and we) refuse, so each is run alone
    beside marked.yaml.  Kustomization is reproduced with a kustomize SPEC, kustomization.yml (whose
    `newDigest` key is Flux's, not kustomize's) with the setter markers.
    """
    setters = corpus_or_skip() / "fluxcd__image-automation-controller/internal/update/testdata/setters"
    work = tmp_path / "w"
    work.mkdir()
    for f in (name, "marked.yaml"):
        (work / f).write_bytes((setters / "original" / f).read_bytes())
    policy = ["--setter", "automation-ns:policy=index.repo.fake/updated:v1.0.1"]
    digest = "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be"
    if name == "Kustomization":
        args = [".", "container=index.repo.fake/updated:v1.0.1", *policy]
    else:
        args = [".", *policy, "--setter", f"automation-ns:policy-with-digest=image:v1.0.0@{digest}"]
    code, output = run_set(work, args)
    assert code == 0, output
    for f in (name, "marked.yaml"):
        assert (work / f).read_bytes() == (setters / "expected" / f).read_bytes(), f
