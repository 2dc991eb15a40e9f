"""The ```python blocks of README.md and docs/*.md run as written.

Each file's blocks run in order in one fresh namespace (a later block may use names of an
earlier one, as a reader would), from a folder that shows the repository's files under their
usual relative paths, so ``"scenarios/small.toml"`` reads the checkout's file while whatever a
block writes (``"results/freq"``, ``"fitted.toml"``) lands in a temporary folder. A block that
is only a fragment is skipped with ``<!-- not-tested: REASON -->`` on the line right above it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE_OPEN = re.compile(r"^```python\s*$")
_FENCE_CLOSE = re.compile(r"^```\s*$")
_SKIP = re.compile(r"^<!--\s*not-tested:(?P<reason>.*?)-->\s*$")
# Outputs the docs write (git-ignored): never shown from the checkout, so they go to tmp.
_OUTPUT_NAMES = frozenset({"results", "out", "build", "dist"})


@dataclass(frozen=True)
class Block:
    """One ```python block: where it starts, its code, and why it is skipped (or None)."""

    path: Path
    line: int  # 1-based line of the first line of code
    code: str
    skip_reason: str | None


def blocks_of(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, in order; fails on a marker without a block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        marker = _SKIP.match(lines[i].strip())
        if marker and not (i + 1 < len(lines) and _FENCE_OPEN.match(lines[i + 1])):
            raise AssertionError(
                f"{path.name}:{i + 1}: a not-tested marker must be the line right above a"
                f" ```python block"
            )
        if _FENCE_OPEN.match(lines[i]):
            above = _SKIP.match(lines[i - 1].strip()) if i else None
            start = i + 1
            end = start
            while end < len(lines) and not _FENCE_CLOSE.match(lines[end]):
                end += 1
            if end == len(lines):
                raise AssertionError(f"{path.name}:{i + 1}: ```python block is never closed")
            reason = above["reason"].strip() if above else None
            blocks.append(Block(path, start + 1, "\n".join(lines[start:end]) + "\n", reason))
            i = end
        i += 1
    return blocks


def _documents_with_code() -> list[Path]:
    return [p for p in DOCS if blocks_of(p)]


def _repository_view(into: Path) -> None:
    """Show the checkout's top-level files and folders in ``into`` (as links), outputs aside."""
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in _OUTPUT_NAMES:
            continue
        if entry.name.endswith(".egg-info"):
            continue
        (into / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


def _git_status() -> str | None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def test_blocks_are_found_and_skips_give_a_reason() -> None:
    # Guards the collector itself: the README's Python example must be seen.
    readme = blocks_of(ROOT / "README.md")
    assert any("sim.simulate(" in b.code for b in readme), "README's Python block not found"
    for path in DOCS:
        for block in blocks_of(path):
            if block.skip_reason is not None:
                assert block.skip_reason, (
                    f"{path.relative_to(ROOT)}:{block.line}: say why the block is not tested:"
                    f" <!-- not-tested: REASON -->"
                )


def test_the_collector_reads_markers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- not-tested: a fragment -->\n```python\n...\n```\n"
        "<!-- not-tested: -->\n```python\ny\n```\n",
        encoding="utf-8",
    )
    first, second, third = blocks_of(doc)
    assert (first.line, first.code, first.skip_reason) == (4, "x = 1\n", None)
    assert (second.line, second.skip_reason) == (9, "a fragment")
    assert third.skip_reason == ""  # test_blocks_are_found_and_skips_give_a_reason refuses it
    doc.write_text("<!-- not-tested: why -->\n\n```python\nx\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="right above"):
        blocks_of(doc)


@pytest.mark.parametrize("path", _documents_with_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_code_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repository_view(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = _git_status()
    namespace: dict[str, object] = {"__name__": "__doc__"}
    name = str(path.relative_to(ROOT))
    for block in blocks_of(path):
        if block.skip_reason:
            continue
        # Blank lines in front, so a traceback gives the line in the Markdown file.
        code = compile("\n" * (block.line - 1) + block.code, name, "exec")
        try:
            exec(code, namespace)
        except Exception:
            pytest.fail(
                f"the ```python block at {name}:{block.line} fails:\n{traceback.format_exc()}",
                pytrace=False,
            )
    after = _git_status()
    assert before == after, (
        f"the code of {name} wrote into the checkout (write outputs to a relative path such as"
        f" results/…, which the test keeps in a temporary folder):\n{after}"
    )
