"""Sources inside the repo: comments cite ``docs/references.md`` by key, and nothing else.

(a) every ``[key]`` cited in a comment, docstring or string under src/, bench/, scripts/, in the
    package data (JSON) and in the documents has an entry in docs/references.md;
(b) no file under src/ cites a planning document ("DESIGN.md", "issue N", "brief") as a source,
    and no comment block names an author and year without a key;
(c) every entry of docs/references.md is cited somewhere, or is marked *(background)*.

Text only (tokenize, no imports of the package), so the whole module runs in well under a second.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "references.md"

# --- Temporary allow-lists -----------------------------------------------------------------
# Files under src/ that still cite a planning document or name a source without its key. Their
# owners fix the comments with the keys of docs/references.md and delete the line here; the test
# fails for a listed file that has become clean, so this list stays exact until it is empty.
PENDING: frozenset[str] = frozenset({})
# Entries of docs/references.md that so far only one file cites, in prose and without the key:
# that file. Its owner cites the key there and deletes the line (the test fails while it is stale).
AWAITING: dict[str, str] = {}

# --- Parsing -------------------------------------------------------------------------------
KEY = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
# "[key]" as a citation: not an index (``x[i]``, ``.[dev]``), not a Markdown link
# (``[text](url)``); one key per bracket. Markdown link definitions are dropped in ``_cited``.
CITE = re.compile(rf"(?<![\w\].`'\"])\[({KEY})\](?![(\[\w])")
ENTRY = re.compile(rf"^- \*\*\[({KEY})\]\*\*")

PLANNING = [
    re.compile(r"DESIGN\.md|\bDESIGN\s+(?:section|§)"),
    re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE),
    re.compile(
        r"\(\s*(?:task\s+)?brief\b|\b(?:task\s+)?brief\s*[:;,)]|[;,]\s*brief\b|\"brief\"",
        re.IGNORECASE,
    ),
]
# "Author 1999", "Author et al. 1999", "Author & Other 1999", "WHO 1994": a citation in prose,
# acceptable only in a comment block or docstring that also cites a key.
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b"
AUTHOR_YEAR = re.compile(
    rf"\b(?!{MONTH})[A-Z][A-Za-z]+(?: et al\.?| & [A-Z][a-z]+)?,? (?:19|20)\d\d\b"
)


def _python_files() -> list[Path]:
    files: list[Path] = []
    for top in ("src", "bench", "scripts"):
        files.extend(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def _markdown_files() -> list[Path]:
    docs = [p for p in (ROOT / "docs").glob("*.md") if p != REFERENCES]
    return sorted([*docs, ROOT / "README.md", ROOT / "bench" / "README.md"])


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def _prose(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(comment blocks and docstrings, all string literals) of a Python file.

    Consecutive comment lines form one block, so a key on the first line of a comment covers the
    author named on the next."""
    blocks: list[str] = []
    strings: list[str] = []
    block: list[str] = []
    last_line = -2
    prev = tokenize.NEWLINE
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            if tok.start[0] != last_line + 1 and block:
                blocks.append("\n".join(block))
                block = []
            block.append(tok.string)
            last_line = tok.start[0]
        elif tok.type == tokenize.STRING:
            strings.append(tok.string)
            if prev in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL):
                blocks.append(tok.string)  # a docstring (or another bare string statement)
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            prev = tok.type
        elif tok.type == tokenize.NL and prev in (tokenize.NEWLINE, tokenize.INDENT):
            prev = tokenize.NL
    if block:
        blocks.append("\n".join(block))
    return tuple(blocks), tuple(strings)


@cache
def _entries() -> dict[str, str]:
    """Key -> text of its entry in docs/references.md."""
    entries: dict[str, str] = {}
    current: str | None = None
    for line in REFERENCES.read_text(encoding="utf-8").splitlines():
        m = ENTRY.match(line)
        if m:
            current = m.group(1)
            assert current not in entries, f"docs/references.md: [{current}] defined twice"
            entries[current] = line
        elif current and line.startswith("  ") and line.strip():
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


def _cited(text: str) -> list[str]:
    """Keys cited in ``text`` (keys of three characters or more: shorter brackets are indices)."""
    return [
        m.group(1)
        for m in CITE.finditer(text)
        if len(m.group(1)) > 2
        and not (text.startswith(":", m.end()) and (m.start() == 0 or text[m.start() - 1] == "\n"))
    ]


def _citations() -> Iterator[tuple[str, str]]:
    """(file, key) for every citation in the scanned files (Python: comments, docstrings and
    the other string literals, e.g. the ``source`` notes of the quantities registry)."""
    for path in _python_files():
        blocks, strings = _prose(path)
        for text in (*blocks, *strings):
            for key in _cited(text):
                yield _rel(path), key
    for path in [*_markdown_files(), *sorted((ROOT / "src").rglob("*.json"))]:
        for key in _cited(path.read_text(encoding="utf-8")):
            yield _rel(path), key


def _bad_citations(path: Path) -> list[str]:
    blocks, strings = _prose(path)
    found = [f"{m.group(0)!r}" for s in strings for m in PLANNING[0].finditer(s)]
    for text in blocks:
        for pattern in PLANNING:
            found += [f"{m.group(0)!r}" for m in pattern.finditer(text)]
        if not _cited(text):
            found += [f"{m.group(0)!r} without a key" for m in AUTHOR_YEAR.finditer(text)]
    return sorted(set(found))


# --- Tests ---------------------------------------------------------------------------------
def test_references_parse() -> None:
    entries = _entries()
    assert len(entries) > 40
    for key in ("seed-spinemed", "seed-osteoporosis", "seed-spinomed", "lee-evans2001"):
        assert key in entries


def test_seed_texts_are_in_the_repo() -> None:
    for name in ("spinemed-decompression.txt", "osteoporosis-spine.txt", "spinomed-orthosis.txt"):
        seed = ROOT / "docs" / "seeds" / name
        assert seed.is_file() and seed.stat().st_size > 1000, seed
        assert f"seeds/{name}" in REFERENCES.read_text(encoding="utf-8")


def test_every_cited_key_has_an_entry() -> None:
    entries = _entries()
    unknown = sorted({f"{f}: [{k}]" for f, k in _citations() if k not in entries})
    assert not unknown, "cited but not in docs/references.md:\n" + "\n".join(unknown)


def test_every_entry_is_cited_or_background() -> None:
    cited = {k for _, k in _citations()}
    uncited = sorted(
        k
        for k, text in _entries().items()
        if k not in cited and k not in AWAITING and "*(background" not in text
    )
    assert not uncited, "entries nobody cites (cite them or mark *(background)*): " + ", ".join(
        uncited
    )


def test_awaiting_list_is_exact() -> None:
    cited = {k for _, k in _citations()}
    entries = _entries()
    for key, path in AWAITING.items():
        assert key in entries, f"AWAITING names [{key}], which has no entry"
        assert key not in cited, f"[{key}] is cited now: delete it from AWAITING"
        assert (ROOT / path).is_file(), f"AWAITING: {path} does not exist"


SRC_FILES = [p for p in _python_files() if _rel(p).startswith("src/")]


@pytest.mark.parametrize("path", SRC_FILES, ids=_rel)
def test_src_cites_no_planning_document(path: Path) -> None:
    rel = _rel(path)
    bad = _bad_citations(path)
    if rel in PENDING:
        assert bad, f"{rel} is clean now: delete it from PENDING in tests/test_references.py"
        pytest.skip(f"pending fix by its owner: {', '.join(bad)}")
    assert not bad, f"{rel} cites: {', '.join(bad)}; cite docs/references.md keys instead"
