"""The real-world corpus (../shared/corpus, see its SOURCES.md): edits change exactly the intended bytes.

* every tagged ``images:`` entry of every kustomization, bumped with ``image set`` in a copy, changes exactly
  one line of that file (the tag's) and no other file;
* every overlay that renders with objects still renders after a bump, and differs only in that image's lines;
* Helm values (a quoted ``"18.4"``, a plain tag, empty files, a commented-out look-alike block), a YAML anchor
  reused through aliases, and every YAML file of the corpus parsing or failing with a located YamlError.

The corpus is never touched: each test copies what it edits into ``tmp_path`` (and makes the copy writable;
the corpus files are read-only).
"""

from __future__ import annotations

import functools
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from gitops_tools.errors import GitopsError, YamlError
from gitops_tools.core.helmvalues import set_value
from gitops_tools.core.keypath import parse_keypath
from gitops_tools.core.kustomize import KUSTOMIZATION_FILES, Kustomization, KustImage, read_kustomization
from gitops_tools.core.policy import parse_semver
from gitops_tools.core.reference import parse_reference
from gitops_tools.core.yamldoc import Scalar, find, parse_documents
from gitops_tools.core.yamledit import apply_splices, set_scalar
from tests.conftest import CORPUS, copy_tree, corpus_or_skip, kubectl, tree_bytes
from tests.conftest import run_in_process as run_cli

pytestmark = pytest.mark.corpus

NO_CORPUS = [pytest.param(None, id="no-corpus")]


# --- helpers --------------------------------------------------------------------------------------------------


def read(path: Path) -> str:
    """The file's text exactly as stored (no newline translation)."""
    return path.read_bytes().decode("utf-8")


def copy_repo(corpus: Path, repo: str, tmp_path: Path) -> Path:
    """A writable copy of ``corpus/<owner>__<repo>`` at ``tmp_path/<owner>__<repo>``."""
    dst = copy_tree(corpus / repo, tmp_path / repo)
    for p in (dst, *dst.rglob("*")):
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dst




def kustomization_in(directory: Path) -> Path | None:
    found = [directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()]
    return found[0] if len(found) == 1 else None


def bumped(tag: str) -> str:
    """A different, valid tag that is never a semver downgrade (which `image set` would skip)."""
    version = parse_semver(tag)
    if version is not None:
        return f"{tag[0] if tag[:1] in ('v', 'V') else ''}{version.major + 1}.0.0"
    return f"{tag[:100]}-bumped"


def render(directory: Path) -> str:
    done = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return done.stdout


@functools.lru_cache(maxsize=None)
def render_original(rel: str) -> str:
    """The render of the untouched corpus directory (kubectl only reads it), computed once per directory."""
    return render(CORPUS / rel)


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines that differ, position by position; the renders must keep their number of lines."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), "the render gained or lost lines"
    pairs = [(a, b) for a, b in zip(old, new) if a != b]
    return [a for a, _ in pairs], [b for _, b in pairs]


# --- discovery (at collection, so that ids name the file and image) ------------------------------------------


def _kustomization_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.name in KUSTOMIZATION_FILES and p.is_file())


def _tagged_entries() -> list[object]:
    params: list[object] = []
    for path in _kustomization_files():
        if sum((path.parent / n).is_file() for n in KUSTOMIZATION_FILES) > 1:
            continue  # kustomize refuses such a directory: test_two_kustomization_files_are_refused
        rel = path.relative_to(CORPUS).as_posix()
        try:
            kust = read_kustomization(read(path), rel)
        except GitopsError as err:  # reported by the test body, not as a collection error
            params.append(pytest.param((rel, None, str(err)), id=f"{rel}[unreadable]"))
            continue
        for entry, _ in kust.entries:
            if entry.new_tag:
                params.append(pytest.param((rel, entry.name, None), id=f"{rel}[{entry.name}]"))
    return params


def _render_dirs() -> list[object]:
    sources = CORPUS / "SOURCES.md"
    if not sources.is_file():
        return []
    line = next((ln for ln in read(sources).splitlines() if ln.startswith("Renders with objects:")), "")
    return [pytest.param(d, id=d) for d in re.findall(r"`([^`]+)`", line)]


def _yaml_files() -> list[object]:
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*")
                   if p.is_file() and (p.suffix in (".yaml", ".yml") or p.name == "Kustomization"))
    return [pytest.param(p.relative_to(CORPUS).as_posix(), id=p.relative_to(CORPUS).as_posix()) for p in files]


TAGGED = _tagged_entries()
RENDER_DIRS = _render_dirs()
YAML_FILES = _yaml_files()


def test_discovery_found_the_corpus_cases() -> None:
    corpus_or_skip()
    assert len(TAGGED) >= 10, "expected the tagged images: entries listed in SOURCES.md"
    assert len(RENDER_DIRS) >= 10, "expected SOURCES.md to list the directories that render with objects"
    assert len(YAML_FILES) >= 50


# --- every tagged image entry, bumped in a copy -------------------------------------------------------------


@pytest.mark.parametrize("case", TAGGED or NO_CORPUS)
def test_bumping_a_tagged_image_changes_exactly_its_line(case: tuple[str, str | None, str | None] | None,
                                                         tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    assert case is not None
    rel, image, error = case
    assert image is not None, f"{rel}: read_kustomization failed: {error}"
    repo = rel.split("/", 1)[0]
    work = copy_repo(corpus, repo, tmp_path)
    kfile = tmp_path / rel
    before = read(kfile)
    kust = read_kustomization(before, rel)
    found = kust.find(image)
    assert found is not None
    current, node = found
    assert current.new_tag is not None
    new_tag = bumped(current.new_tag)
    spec = f"{image}=*:{new_tag}" + ("@*" if current.digest else "")

    code, out, err = run_cli(tmp_path, "image", "set", kfile.parent.relative_to(tmp_path).as_posix(), spec)

    assert code == 0, out + err
    assert "(updated)" in out and "wrote" in out, out
    after = read(kfile)
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    vnode = node.get("newTag")
    assert isinstance(vnode, Scalar)
    line_no = before.count("\n", 0, vnode.start)
    assert differing == [line_no], f"expected only line {line_no + 1} to change, got {[i + 1 for i in differing]}"
    line_start = before.rfind("\n", 0, vnode.start) + 1
    s, e = vnode.start - line_start, vnode.end - line_start
    old_line = old_lines[line_no]
    assert current.new_tag in old_line[s:e]
    assert new_lines[line_no] == old_line[:s] + old_line[s:e].replace(current.new_tag, new_tag) + old_line[e:]
    assert read_kustomization(after, rel).find(image)[0] == current._replace(new_tag=new_tag)  # type: ignore[index]

    original, copied = tree_bytes(corpus / repo), tree_bytes(work)
    assert set(copied) == set(original), "files appeared or disappeared (a left-over temporary file?)"
    edited = kfile.relative_to(work).as_posix()
    assert [f for f in original if copied[f] != original[f]] == [edited]


def test_two_kustomization_files_are_refused(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    work = copy_repo(corpus, "fluxcd__image-automation-controller", tmp_path)
    target = "fluxcd__image-automation-controller/internal/update/testdata/setters/original"
    assert (tmp_path / target / "Kustomization").is_file() and (tmp_path / target / "kustomization.yml").is_file()
    before = tree_bytes(work)
    code, out, err = run_cli(tmp_path, "image", "set", target, "container=*:v2.0.0")
    assert code == 1, out + err
    first = err.splitlines()[0]
    assert first.startswith("error:") and "more than one kustomization file" in first, err
    assert "Kustomization" in first and "kustomization.yml" in first, err
    assert tree_bytes(work) == before


# --- overlays that render: bump, render again --------------------------------------------------------------


def reachable_kustomizations(directory: Path, repo_root: Path) -> list[Path]:
    """``directory`` and the local bases/components it pulls in that lie inside ``repo_root`` (top first)."""
    out: list[Path] = []
    queue = [directory.resolve()]
    root = repo_root.resolve()
    while queue:
        d = queue.pop(0)
        kfile = kustomization_in(d)
        if kfile is None or d in out:
            continue
        out.append(d)
        data = yaml.safe_load(read(kfile)) or {}
        for key in ("resources", "components", "bases"):
            for item in data.get(key) or []:
                if isinstance(item, str) and "://" not in item:
                    sub = (d / item).resolve()
                    if sub.is_dir() and sub.is_relative_to(root):
                        queue.append(sub)
    return out


def _tagged(directory: Path) -> list[KustImage]:
    kfile = kustomization_in(directory)
    assert kfile is not None
    kust: Kustomization = read_kustomization(read(kfile), kfile.name)
    return [e for e, _ in kust.entries if e.new_tag]


def _assert_only_image_lines_changed(before: str, after: str, old_ref: str, new_ref: str) -> None:
    old, new = changed_lines(before, after)
    assert all(new_ref in line for line in new), [ln for ln in new if new_ref not in ln]
    assert all(old_ref in line for line in old), [ln for ln in old if old_ref not in ln]
    if re.search(rf"{re.escape(old_ref)}$", before, re.M):
        assert new, f"{old_ref} is in the render but nothing changed"


@pytest.mark.kubectl
@pytest.mark.parametrize("rel", RENDER_DIRS or NO_CORPUS)
def test_rendered_overlays_differ_only_in_the_bumped_image(rel: str | None, tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    assert rel is not None
    repo = rel.split("/", 1)[0]
    work = copy_repo(corpus, repo, tmp_path)
    top = tmp_path / rel
    current = render(top)
    assert current == render_original(rel), "the copy renders differently from the corpus"
    assert re.search(r"^kind: ", current, re.M), "SOURCES.md says this directory renders objects"

    bumped_any = False
    for directory, entry in [(d, e) for d in reachable_kustomizations(top, work) for e in _tagged(d)]:
        bumped_any = True  # every tagged entry the render reaches, one after the other
        target = directory.relative_to(tmp_path.resolve()).as_posix()
        name_part = entry.new_name or entry.name
        assert entry.new_tag is not None
        # The current value again is a no-op: exit 0, "nothing to do", no byte changes, same render.
        snapshot = tree_bytes(work)
        code, out, err = run_cli(tmp_path, "image", "set", target, f"{entry.name}=*:{entry.new_tag}@*")
        assert code == 0 and "nothing to do" in out, out + err
        assert tree_bytes(work) == snapshot
        # A bump: the render changes only in lines holding the new reference.
        new_tag = bumped(entry.new_tag)
        code, out, err = run_cli(tmp_path, "image", "set", target, f"{entry.name}=*:{new_tag}@*")
        assert code == 0 and "(updated)" in out, out + err
        after = render(top)
        _assert_only_image_lines_changed(current, after, f"{name_part}:{entry.new_tag}", f"{name_part}:{new_tag}")
        current = after
    if bumped_any:
        return

    # No tagged entry reachable: pin an image the render uses to its current tag (an added entry, same
    # render), do it again (nothing to do), then bump it (only its lines change).
    target = top.relative_to(tmp_path).as_posix()
    refs = [parse_reference(r) for r in re.findall(r"^\s*(?:- )?image: (\S+)$", current, re.M)]
    ref = next((r for r in refs if r.tag and not r.digest), None)
    name, tag = "registry.example.com/unused", "1.0.0"  # nothing to pin (a HelmRelease): an unused entry
    if ref is not None and ref.tag is not None:
        name, tag = ref.name, ref.tag
    code, out, err = run_cli(tmp_path, "image", "set", target, f"{name}=*:{tag}")
    assert code == 0 and "(added)" in out, out + err
    assert render(top) == current
    snapshot = tree_bytes(work)
    code, out, err = run_cli(tmp_path, "image", "set", target, f"{name}=*:{tag}")
    assert code == 0 and "nothing to do" in out, out + err
    assert tree_bytes(work) == snapshot
    assert render(top) == current
    if ref is not None:
        new_tag = bumped(tag)
        code, out, err = run_cli(tmp_path, "image", "set", target, f"{name}=*:{new_tag}")
        assert code == 0 and "(updated)" in out, out + err
        _assert_only_image_lines_changed(current, render(top), f"{name}:{tag}", f"{name}:{new_tag}")


@pytest.mark.kubectl
def test_container_images_tag_component_bump_renders(tmp_path: Path) -> None:
    """SOURCES.md: the microservices-demo tag component renders only once uncommented in the root kustomization.

    In the copy, uncomment it; its NON-indented `images:` list then sets every service's tag.  Bumping one
    entry there changes that service's image lines in the root render and nothing else.
    """
    corpus = corpus_or_skip()
    repo = "GoogleCloudPlatform__microservices-demo"
    copy_repo(corpus, repo, tmp_path)
    root = tmp_path / repo / "kustomize"
    root_file = root / "kustomization.yaml"
    text, n = re.subn(r"^# - (components/container-images-tag)$", r"- \1", read(root_file), flags=re.M)
    assert n == 1
    root_file.write_bytes(text.encode())
    before = render(root)
    component = root / "components" / "container-images-tag"
    entry = _tagged(component)[0]
    assert entry.new_tag == "CONTAINER_IMAGES_TAG"
    assert f"{entry.name}:CONTAINER_IMAGES_TAG" in before
    component_before = read(component / "kustomization.yaml")

    code, out, err = run_cli(tmp_path, "image", "set", component.relative_to(tmp_path).as_posix(),
                             f"{entry.name}=*:v0.10.7")

    assert code == 0 and "(updated)" in out, out + err
    old_lines = component_before.splitlines(keepends=True)
    new_lines = read(component / "kustomization.yaml").splitlines(keepends=True)
    assert [(a, b) for a, b in zip(old_lines, new_lines) if a != b] == [
        ("  newTag: CONTAINER_IMAGES_TAG\n", "  newTag: v0.10.7\n")
    ] and len(old_lines) == len(new_lines)
    _assert_only_image_lines_changed(before, render(root), f"{entry.name}:CONTAINER_IMAGES_TAG",
                                     f"{entry.name}:v0.10.7")


# --- Helm values --------------------------------------------------------------------------------------------

OTEL = "open-telemetry__opentelemetry-helm-charts/charts/opentelemetry-demo"


@pytest.mark.parametrize(("rel", "key", "old"), [
    pytest.param(f"{OTEL}/values.yaml", "components.astronomy-db.imageOverride.tag", "18.4", id="otel-quoted-18.4"),
    pytest.param("stefanprodan__podinfo/charts/podinfo/values.yaml", "image.tag", None, id="podinfo-plain-tag"),
])
def test_helm_value_set_to_1_10_changes_only_that_scalar(rel: str, key: str, old: str | None,
                                                        tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    copy = tmp_path / Path(rel).name
    copy.write_bytes((corpus / rel).read_bytes())
    text = read(copy)
    node = find(parse_documents(text, rel)[0], parse_keypath(key))
    assert isinstance(node, Scalar)
    if old is not None:
        assert node.value == old and node.style == '"', "upstream quotes it on purpose"

    new_text, change = set_value(text, rel, key, "1.10")
    copy.write_bytes(new_text.encode())

    assert change is not None and change.new == "1.10" and change.old == node.value
    head, tail = text[: node.start], text[node.end :]
    assert new_text.startswith(head) and new_text.endswith(tail)
    middle = new_text[len(head) : len(new_text) - len(tail)]
    assert middle == '"1.10"', "1.10 must be quoted (plain it loads as the float 1.1)"
    data = yaml.safe_load(read(copy))
    for part in key.split("."):
        data = data[part]
    assert data == "1.10" and isinstance(data, str)


@pytest.mark.parametrize("rel", [
    pytest.param(f"{OTEL}/ci/default-values.yaml", id="0-bytes"),
    pytest.param(f"{OTEL}/examples/default/values.yaml", id="1-byte"),
])
def test_empty_values_files_give_a_clear_error(rel: str) -> None:
    corpus = corpus_or_skip()
    text = read(corpus / rel)
    assert len(text) <= 1 and text.strip() == ""
    with pytest.raises(GitopsError) as info:
        set_value(text, rel, "image.tag", "1.10")
    assert isinstance(info.value, YamlError)
    assert info.value.file == rel and "empty" in info.value.problem, str(info.value)


def test_commented_out_lookalike_block_is_left_alone() -> None:
    corpus = corpus_or_skip()
    rel = "argoproj-labs__argocd-image-updater/test/e2e/testdata/008-simple-helm-app/values.yaml"
    text = read(corpus / rel)
    assert "#image:\n#  repository: 10.42.0.1:30000/test-image\n#  tag: 1.0.0\n" in text
    new_text, change = set_value(text, rel, "image.tag", "1.0.1")
    assert change is not None and change.old == "1.0.0"
    old_lines, new_lines = text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    differing = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    assert differing == [("  tag: 1.0.0\n", "  tag: 1.0.1\n")]
    commented = [i for i, ln in enumerate(old_lines) if ln.lstrip().startswith("#")]
    assert commented and all(new_lines[i] == old_lines[i] for i in commented)


def test_anchored_image_is_edited_at_the_anchor_only() -> None:
    corpus = corpus_or_skip()
    rel = "akuity__kargo/.github/workflows/ci.yaml"
    text = read(corpus / rel)
    root = parse_documents(text, rel)[0]
    # lint-go's container image is `*golangImage`: the parser resolves it to the anchored scalar.
    assert re.search(r"^  lint-go:\n(?:    .*\n)*?      image: \*golangImage$", text, re.M)
    key = "jobs.lint-go.container.image"
    node = find(root, parse_keypath(key))
    assert isinstance(node, Scalar) and node.value.startswith("golang:")
    anchor_line_no = text.count("\n", 0, node.start)
    old_lines = text.splitlines(keepends=True)
    assert "image: &golangImage " in old_lines[anchor_line_no]
    new_value = "golang:9.9.9-trixie"

    new_text = apply_splices(text, [set_scalar(text, node, new_value, rel, key)])

    new_lines = new_text.splitlines(keepends=True)
    assert len(new_lines) == len(old_lines)
    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert differing == [anchor_line_no]
    assert new_lines[anchor_line_no] == old_lines[anchor_line_no].replace(node.value, new_value)
    assert "&golangImage" in new_lines[anchor_line_no]
    aliases = [i for i, ln in enumerate(old_lines) if "*golangImage" in ln]
    assert len(aliases) >= 3 and all(new_lines[i] == old_lines[i] for i in aliases)
    jobs = yaml.safe_load(new_text)["jobs"]
    images = [j["container"]["image"] for j in jobs.values() if isinstance(j.get("container"), dict)]
    assert images.count(new_value) == len(aliases) + 1 and node.value not in images


# --- every YAML file parses, or fails with a location -------------------------------------------------------


@pytest.mark.parametrize("rel", YAML_FILES or NO_CORPUS)
def test_every_corpus_yaml_file_parses_or_fails_with_a_location(rel: str | None) -> None:
    corpus = corpus_or_skip()
    assert rel is not None
    try:
        parse_documents(read(corpus / rel), rel)
    except YamlError as err:
        assert err.file == rel and err.line is not None and err.column is not None, str(err)
