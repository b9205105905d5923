"""The live library watching its folder (file-system events, and polling where those are
unavailable): a refresh with nothing changed looks at no file, and what changes, appears
or goes, folders included, is found without walking the folder.  Real files, the real
watcher; each test waits for what it expects up to a deadline, never a fixed time."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.changes import Change
from retrieval.library import Library
from retrieval.loader import load_reports
from tests.retrieval.indexed import as_indexed
from tests.retrieval.test_library import PORT, WHEAT, write

DEADLINE = 10.0


def refresh_until(
    library: Library, done: Callable[[Library], bool], timeout: float = DEADLINE
) -> list[Change]:
    """Refresh again and again until `done(library)`; the changes on the way."""
    changes: list[Change] = []
    deadline = time.monotonic() + timeout
    while True:
        change = library.refresh()
        if change is not None:
            changes.append(change)
        if done(library):
            return changes
        if time.monotonic() > deadline:
            ids = sorted(r.id for r in library.engine.reports)
            raise AssertionError(f"not reached within {timeout}s; the library holds {ids}")
        time.sleep(0.05)


def holds(*ids: str) -> Callable[[Library], bool]:
    return lambda library: all(library.engine.report(i) is not None for i in ids)


def lacks(*ids: str) -> Callable[[Library], bool]:
    return lambda library: all(library.engine.report(i) is None for i in ids)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    write(root / "port.txt", PORT)
    for area in range(3):
        for number in range(20):
            text = f"Note {number}\n\nNote {area}/{number}.\n"
            write(root / f"area{area}" / f"n{number}.txt", text)
    return root


@pytest.fixture(params=["events", "polling"])
def library(request: pytest.FixtureRequest, folder: Path) -> Iterator[Library]:
    watched = Library(folder, watch=request.param, poll_seconds=0.2)
    watched.refresh()  # the first load, which starts the watcher
    assert watched.watch_mode == request.param
    yield watched
    watched.close()


class Counted:
    """Counts calls of os.stat and os.scandir (anyone's: the loader's, pathlib's, ours)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stats: list[str] = []
        self.listings: list[str] = []
        real_stat, real_scandir = os.stat, os.scandir

        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            self.stats.append(os.fsdecode(path) if isinstance(path, str | bytes) else str(path))
            return real_stat(path, *args, **kwargs)

        def scandir(path: Any = ".") -> Any:
            self.listings.append(str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "stat", stat)
        monkeypatch.setattr(os, "scandir", scandir)


def test_a_refresh_with_nothing_changed_looks_at_no_file(
    library: Library, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = library.folder.files_checked
    counted = Counted(monkeypatch)
    for _ in range(5):
        assert library.refresh() is None
    assert counted.listings == []
    assert {Path(p) for p in counted.stats} <= {folder}  # the root, to see it is still there
    assert library.folder.files_checked == checked


def test_a_file_written_in_a_new_subfolder_is_picked_up(library: Library, folder: Path) -> None:
    # Written at once: the file is there before any watch on its folder can be.
    write(folder / "farm" / "north" / "wheat.txt", WHEAT)
    changes = refresh_until(library, holds("farm/north/wheat"))
    assert [r.id for c in changes for r in c.added] == ["farm/north/wheat"]
    assert sum(c.files_read for c in changes) == 1


def test_changed_and_deleted_files_are_found(library: Library, folder: Path) -> None:
    write(folder / "port.txt", PORT.replace("Zeebrugge", "Antwerp"), age_seconds=1800)
    refresh_until(library, lambda lib: any("Antwerp" in p.text for p in lib.engine.passages))
    (folder / "area1" / "n3.txt").unlink()
    refresh_until(library, lacks("area1/n3"))
    assert library.engine.report("area1/n4") is not None


def test_a_folder_moved_in_brings_its_files_and_one_moved_out_takes_them(
    library: Library, folder: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "incoming"
    for number in range(5):
        write(elsewhere / "batch" / f"m{number}.txt", f"Moved {number}\n\nMoved note {number}.\n")
    (elsewhere / "batch").rename(folder / "batch")
    refresh_until(library, holds(*(f"batch/m{n}" for n in range(5))))
    (folder / "area2").rename(tmp_path / "area2-gone")
    refresh_until(library, lacks(*(f"area2/n{n}" for n in range(20))))
    (folder / "batch").rename(folder / "renamed")
    refresh_until(library, lambda lib: holds("renamed/m0")(lib) and lacks("batch/m0")(lib))
    assert library.engine.reports == as_indexed(load_reports(folder).reports)


def test_a_folder_deleted_with_everything_in_it_is_forgotten(
    library: Library, folder: Path
) -> None:
    shutil.rmtree(folder / "area0")
    refresh_until(library, lacks(*(f"area0/n{n}" for n in range(20))))
    assert library.engine.reports == as_indexed(load_reports(folder).reports)


def test_a_folder_made_again_between_two_refreshes_is_read_again(
    library: Library, folder: Path
) -> None:
    shutil.rmtree(folder / "area1")
    write(folder / "area1" / "fresh.txt", "Fresh\n\nA new area one.\n")
    refresh_until(library, lambda lib: holds("area1/fresh")(lib) and lacks("area1/n0")(lib))
    assert library.engine.reports == as_indexed(load_reports(folder).reports)


def test_a_fresh_file_waits_and_is_read_once_settled_without_another_event(
    folder: Path,
) -> None:
    library = Library(folder, watch="events", settle_seconds=0.5)
    library.refresh()
    try:
        (folder / "fresh.txt").write_text(WHEAT, encoding="utf-8")  # mtime: now
        refresh_until(library, lambda lib: "fresh" in str(lib.folder.waiting))
        assert library.engine.report("fresh") is None
        refresh_until(library, holds("fresh"))  # nothing else happens to it meanwhile
        assert library.folder.waiting == {}
    finally:
        library.close()


def test_a_link_out_of_the_folder_is_not_followed_unless_allowed(
    folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for follow in (False, True):
        library = Library(folder, watch="events", follow_outside_links=follow)
        library.refresh()
        try:
            link = folder / "out"
            link.symlink_to(outside)
            write(outside / f"secret{follow}.txt", "Secret\n\nThe password is swordfish.\n")
            write(folder / f"marker{follow}.txt", "Marker\n\nThe marker is here.\n")
            refresh_until(library, holds(f"marker{follow}"))
            if follow:
                refresh_until(library, holds(f"out/secret{follow}"))
            else:
                write(outside / "later.txt", "Later\n\nThe password is still swordfish.\n")
                write(folder / "marker-later.txt", "Marker\n\nThe marker is later.\n")
                refresh_until(library, holds("marker-later"))
                assert not any("swordfish" in p.text for p in library.engine.passages)
            link.unlink()
        finally:
            library.close()


def test_a_vanished_folder_keeps_its_reports_and_is_watched_again_when_back(
    library: Library, folder: Path, tmp_path: Path
) -> None:
    count = len(library.engine.reports)
    folder.rename(tmp_path / "unmounted")
    for _ in range(3):
        assert library.refresh() is None
    assert len(library.engine.reports) == count
    (tmp_path / "unmounted").rename(folder)
    write(folder / "back.txt", "Back\n\nThe folder is back.\n")
    refresh_until(library, holds("back"))
    write(folder / "later.txt", "Later\n\nWatched again.\n")
    refresh_until(library, holds("later"))


def test_the_same_folder_under_two_names_is_read_once(folder: Path) -> None:
    write(folder / "real" / "r.txt", "Real\n\nThe real one.\n")
    (folder / "alias").symlink_to("real")  # walked first, by name: its name wins
    library = Library(folder, watch="events")
    library.refresh()
    try:
        assert library.engine.report("alias/r") and library.engine.report("real/r") is None
        write(folder / "real" / "r2.txt", "Real two\n\nThe second real one.\n")
        refresh_until(library, holds("alias/r2"))
        assert library.engine.report("real/r2") is None
        (folder / "real" / "r2.txt").unlink()  # the event names it real/r2.txt
        refresh_until(library, lacks("alias/r2"))
    finally:
        library.close()


def test_files_of_other_types_are_mentioned_once_per_walk(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "table.csv").write_text("a,b\n")
    (folder / "area1" / "scan.tiff").write_bytes(b"II*\x00")
    library = Library(folder, watch="events")
    try:
        with caplog.at_level("WARNING", logger="retrieval.library"):
            for _ in range(4):  # the first walks, the others look at what changed
                library.refresh()
    finally:
        library.close()
    said = [r.getMessage() for r in caplog.records if "not a report format" in r.getMessage()]
    assert len(said) == 1, said
    assert "skipped 2 files of types .csv, .tiff" in said[0]


def test_closing_stops_the_watcher(library: Library) -> None:
    watcher = library._watcher
    assert watcher is not None and watcher.running
    library.close()
    assert not watcher.running and library.watch_mode == "walk"
