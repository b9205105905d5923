"""The one walk of a reports folder (retrieval/listing.py): over a folder with every kind
of awkward entry, the files it names and in which order, the links and folders it skips
and why, and the files of other types, as the loader, the cache key and the live library
all see them."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.corpus_cache import file_signatures
from retrieval.listing import Lister, list_reports
from retrieval.loader import report_files, scan_folder

TEXT = "Title\n\nA paragraph about the harbour.\n"


def make_tree(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    outside = tmp_path / "outside"
    for name in ("a.txt", "b.md", "c.markdown", "d.jsonl", "E.TXT", "x.y.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(TEXT)
    for name in ("z/1.txt", "z/2.md", "a/nested/deep.txt", "real/inner.txt", "a b/space.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(TEXT)
    for name in (".hidden/h.txt", "x.txt.part", ".#a.txt", "a.txt~", "#a.txt#", "w.tmp", "s.swp"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(TEXT)
    for name in ("notes.odt", "table.csv", "README", "dot."):
        (root / name).write_text("other")
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text(TEXT)
    (outside / "sub" / "more.txt").write_text(TEXT)
    (root / "alias").symlink_to("real")  # the same folder under a name sorted first
    (root / "loop").symlink_to(".")  # back to the root
    (root / "out").symlink_to(outside)  # a folder outside
    (root / "leak.txt").symlink_to(outside / "secret.txt")  # a file outside
    (root / "gone.txt").symlink_to(root / "nowhere.txt")  # dangling
    return root


INSIDE = [
    "E.TXT", "a.txt", "a b/space.txt", "a/nested/deep.txt", "alias/inner.txt", "b.md",
    "c.markdown", "d.jsonl", "gone.txt", "x.y.txt", "z/1.txt", "z/2.md",
]  # fmt: skip
OUTSIDE = ["leak.txt", "out/secret.txt", "out/sub/more.txt"]


def id_order(relative: str) -> tuple[str, str]:
    """The loader's file order: the report id path (relative, no suffix), then the name."""
    return str(Path(relative).with_suffix("")), Path(relative).name


@pytest.mark.parametrize("follow", [False, True], ids=["inside only", "outside links followed"])
def test_the_walk_lists_what_the_loader_reads_in_its_order(tmp_path: Path, follow: bool) -> None:
    root = make_tree(tmp_path)
    scan = scan_folder(root, follow_outside_links=follow)
    expected = sorted(INSIDE + (OUTSIDE if follow else []), key=id_order)
    assert [str(p.relative_to(root)) for p in scan.files] == expected
    # The same walk for the index cache's key and the live library.
    listed = [path for path, _ in list_reports(root, follow_outside_links=follow)]
    assert listed == [str(root / name) for name in expected]
    walk = Lister(root, follow_outside_links=follow).walk()
    assert sorted(walk.files) == sorted(listed)
    # gone.txt is dangling: listed, so that its load says why.  real/ is read once, as alias/.
    reasons = {str(Path(p.path).relative_to(root)): p.reason for p in scan.problems}
    assert sorted(reasons) == (["loop", "real"] if follow else ["leak.txt", "loop", "out", "real"])
    assert reasons["loop"].startswith("symlink loop") and "same folder" in reasons["real"]
    if not follow:
        assert "REPORTS_FOLLOW_OUTSIDE_LINKS=true" in reasons["leak.txt"]
    others = sorted(str(p.relative_to(root)) for p in scan.other_files)
    assert others == ["README", "dot.", "notes.odt", "table.csv"]


def test_the_cache_key_lists_the_files_report_files_names(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    expected = sorted(
        (str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
        if not p.exists()  # a dangling link: its own signature
        else (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in report_files(root)
    )
    assert sorted(file_signatures(root)) == expected
    single = root / "a.txt"
    stat = single.stat()
    assert file_signatures(single) == [("a.txt", stat.st_size, stat.st_mtime_ns)]


def test_a_walk_of_one_folder_lists_what_the_whole_walk_lists_there(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    lister = Lister(root)
    whole = lister.walk()
    seen = {real: name for name, real in whole.folders.items() if "/a" not in name}
    part = lister.walk("a", seen)
    assert sorted(part.files) == sorted(p for p in whole.files if p.startswith(f"{root}/a/"))
    assert lister.walk(".hidden").files == {}
    assert lister.walk("out").files == {} and "outside the reports folder" in (
        lister.walk("out").problems[0].reason
    )


def test_paths_are_spelled_as_the_loader_spells_them_for_a_relative_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path / "reports")
    assert [p for p, _ in list_reports(Path("."))] == [str(p) for p in report_files(Path("."))]
