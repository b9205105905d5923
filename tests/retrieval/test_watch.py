"""The folder watcher (retrieval/watch.py) with the real watchfiles backend: inotify events,
and notify's polling where events are unavailable.  Nothing waits a fixed time: each test
waits for what it expects, up to a deadline."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrieval.watch import Changes, FolderWatcher, filesystem_of, polling_reason

DEADLINE = 10.0

MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 22 0:40 / /mnt/shared rw,relatime shared:9 - nfs4 server:/export rw,vers=4.2
32 31 0:41 / /mnt/shared/local rw,relatime - ext4 /dev/vdb rw
33 22 0:42 / /srv/my\\040reports rw,relatime - fuse.sshfs host:/reports rw
34 22 0:43 / /srv/box rw,relatime - fuseblk /dev/sdc1 rw
"""


def collect(
    watcher: FolderWatcher, until: Callable[[set[str], bool], bool]
) -> tuple[set[str], bool]:
    """Take changes until `until(paths so far, rescan seen)` holds; fail at the deadline."""
    paths: set[str] = set()
    rescan = False
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        changes: Changes = watcher.take()
        paths |= changes.paths
        rescan |= changes.rescan
        if until(paths, rescan):
            return paths, rescan
        time.sleep(0.05)
    raise AssertionError(f"not seen within {DEADLINE}s; got {sorted(paths)}, rescan={rescan}")


@pytest.fixture(params=["events", "polling"])
def watcher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FolderWatcher]:
    root = tmp_path / "reports"
    root.mkdir()
    watching = FolderWatcher(root, mode=request.param, poll_seconds=0.2, burst=50)
    watching.start()
    yield watching
    watching.stop()
    assert not watching.running


def test_changed_paths_come_relative_to_the_root(watcher: FolderWatcher) -> None:
    assert watcher.mode == ("polling" if watcher.wanted == "polling" else "events")
    root = watcher.root
    (root / "sub").mkdir()
    # The folder is watched once its own event is in: a file written before then may
    # come with it or not at all (inotify's race; the library walks a new folder, see
    # test_library_watch), so the file is written after.
    paths, rescan = collect(watcher, lambda p, _: "sub" in p)
    (root / "sub" / "a.txt").write_text("one")
    more, rescan_more = collect(watcher, lambda p, _: "sub/a.txt" in p)
    assert not rescan and not rescan_more and "sub" in paths | more
    (root / "sub" / "a.txt").unlink()
    collect(watcher, lambda p, _: "sub/a.txt" in p)
    assert watcher.take() == Changes(frozenset(), False)  # taken means gone


def test_a_burst_too_big_to_trust_asks_for_a_walk(watcher: FolderWatcher, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    for number in range(80):  # over the burst of 50 the fixture sets
        (staging / f"f{number}.txt").write_text("x")
    if watcher.mode == "polling":
        # All at once, by one rename: on a busy machine a poll could fall between two
        # writes and see two bursts of 40, each under the limit.
        staging.rename(watcher.root / "burst")
    else:
        for path in sorted(staging.iterdir()):
            path.rename(watcher.root / path.name)
    _, rescan = collect(watcher, lambda _, rescan: rescan)
    assert rescan


def test_stopping_is_prompt(watcher: FolderWatcher) -> None:
    started = time.monotonic()
    watcher.stop(timeout=DEADLINE)
    assert not watcher.running
    assert time.monotonic() - started < DEADLINE  # a bound, not a speed claim


def test_a_broken_watch_is_started_again_and_asks_for_a_walk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """watchfiles fails for ever once it meets a name that is not UTF-8; the watcher
    starts over, and since events were lost meanwhile, asks for a walk."""
    root = tmp_path / "reports"
    root.mkdir()
    watching = FolderWatcher(root, mode="events")
    watching.start()
    try:
        with caplog.at_level(logging.WARNING, logger="retrieval.watch"):
            fd = os.open(os.path.join(os.fsencode(root), b"bad\xff.txt"), os.O_CREAT | os.O_WRONLY)
            os.close(fd)
            collect(watching, lambda _, rescan: rescan)
        assert "starting again" in caplog.text
        (root / "after.txt").write_text("x")
        collect(watching, lambda paths, _: "after.txt" in paths)
        assert watching.running
    finally:
        watching.stop()


def test_a_folder_that_does_not_exist_cannot_be_watched(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FolderWatcher(tmp_path / "nowhere").start()


# -- choosing between events and polling ------------------------------------------------


def test_the_file_system_of_a_path_is_that_of_its_deepest_mount() -> None:
    assert filesystem_of("/home/report.txt", MOUNTINFO) == "ext4"
    assert filesystem_of("/mnt/shared/a.txt", MOUNTINFO) == "nfs4"
    assert filesystem_of("/mnt/shared/local/a.txt", MOUNTINFO) == "ext4"
    assert filesystem_of("/mnt/sharedx/a.txt", MOUNTINFO) == "ext4"
    assert filesystem_of("/srv/my reports/a.txt", MOUNTINFO) == "fuse.sshfs"


def test_network_and_fuse_file_systems_are_polled() -> None:
    assert polling_reason("/home/r", MOUNTINFO, {}) is None
    assert "nfs4" in (polling_reason("/mnt/shared/r", MOUNTINFO, {}) or "")
    assert "fuse.sshfs" in (polling_reason("/srv/my reports", MOUNTINFO, {}) or "")
    assert polling_reason("/srv/box", MOUNTINFO, {}) is None  # a local disk through FUSE
    assert polling_reason("/home/r", None, {}) is None  # no mountinfo: not Linux


def test_watchfiles_force_polling_is_obeyed_as_watchfiles_has_it() -> None:
    assert polling_reason("/home/r", MOUNTINFO, {"WATCHFILES_FORCE_POLLING": "1"}) is not None
    for off in ("false", "disable", "DISABLED", ""):
        assert polling_reason("/home/r", MOUNTINFO, {"WATCHFILES_FORCE_POLLING": off}) is None


def test_auto_mode_polls_when_told_to_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WATCHFILES_FORCE_POLLING", "true")
    root = tmp_path / "reports"
    root.mkdir()
    watching = FolderWatcher(root, poll_seconds=0.2)
    with caplog.at_level(logging.INFO, logger="retrieval.watch"):
        watching.start()
    try:
        assert watching.mode == "polling"
        (root / "new.txt").write_text("x")
        collect(watching, lambda paths, _: "new.txt" in paths)
    finally:
        watching.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "retrieval.watch"]
    assert len(said) == 1 and "by polling every 0.2s" in said[0]
    assert "WATCHFILES_FORCE_POLLING" in said[0]


def test_take_is_safe_from_another_thread(watcher: FolderWatcher) -> None:
    seen: set[str] = set()
    done = threading.Event()

    def taker() -> None:
        while not done.is_set():
            seen.update(watcher.take().paths)
            time.sleep(0.01)

    thread = threading.Thread(target=taker)
    thread.start()
    try:
        for number in range(20):
            (watcher.root / f"t{number}.txt").write_text("x")
        deadline = time.monotonic() + DEADLINE
        while len({p for p in seen if p.startswith("t")}) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        thread.join()
    assert {f"t{n}.txt" for n in range(20)} <= seen
