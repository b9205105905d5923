"""Which paths under the reports folder changed: told by the file system, not found by
walking it.

`FolderWatcher` runs watchfiles' Rust watcher (the notify crate: inotify on Linux)
in a thread of its own and collects the changed paths, relative to the root, into
a set that `take()` empties.  A library that refreshes with an empty set costs
nothing: no walk, no stat.

Where events cannot be had, it polls instead (notify's PollWatcher, which stats
every file each round, in Rust): when the folder is on a network or FUSE file
system (inotify sees no change made on another machine), when the kernel refuses
more watches or instances (fs.inotify.max_user_watches / max_user_instances), or
when WATCHFILES_FORCE_POLLING is set, as watchfiles itself has it.  The mode is
logged once, with the reason.

What events cannot tell, `take()` answers with `rescan=True` so the caller walks
the whole folder: after the watcher (re)starts, after it failed and was started
again, and after a burst of changes big enough that the kernel's event queue may
have overflowed (watchfiles drops notify's overflow signal,
samuelcolvin/watchfiles#348).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# The Rust backend, used directly as watchfiles documents it ("Rust backend direct
# usage"): its constructor sets the watches up before it returns, so `start` knows at
# once whether events work, and nothing that changes after it is missed.
from watchfiles._rust_notify import RustNotify

log = logging.getLogger("retrieval.watch")

Mode = Literal["auto", "events", "polling"]
# How long watchfiles groups changes before handing them over, and how often its loop
# wakes (to look at the stop event); waking ten times a second costs next to nothing.
_DEBOUNCE_MS = 500
_ADDED = 1  # watchfiles.Change.added
_STEP_MS = 100
# A batch this large may have overflowed the kernel's queue (16,384 events by
# default; a new file makes about three): walk everything rather than trust it.
_BURST_SHARE_OF_QUEUE = 8
_DEFAULT_QUEUE = 16_384
# After a failure, wait this long before starting over, doubling up to the maximum.
_RETRY_SECONDS = 1.0
_MAX_RETRY_SECONDS = 60.0
# Where inotify misses changes made elsewhere (remote machines, the host of a VM).
_REMOTE_FILESYSTEMS = frozenset(
    {
        "9p", "afs", "beegfs", "ceph", "cifs", "coda", "davfs", "gfs2", "glusterfs", "gpfs",
        "lustre", "ncpfs", "nfs", "nfs4", "ocfs2", "smb3", "smbfs", "sshfs", "vboxsf",
        "virtiofs",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Changes:
    paths: frozenset[str]  # relative to the root ("" is the root itself)
    rescan: bool = False  # events may have been missed: walk the whole folder
    # Those of the paths that were created or moved in (a folder there is new, even if
    # one of that name was there before); the others were modified or deleted.
    created: frozenset[str] = frozenset()


def filesystem_of(path: str, mountinfo: str) -> str | None:
    """The type of the file system `path` (a real path) is on, from /proc/self/mountinfo text."""
    best, kind = "", None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        mount = _unescape(fields[4])
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, right.split()[0]
    return kind


def _unescape(field: str) -> str:
    """mountinfo writes a space as \\040, a tab as \\011 and so on."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def polling_reason(path: str, mountinfo: str | None, environ: dict[str, str]) -> str | None:
    """Why `path` must be polled rather than watched for events; None when events work."""
    forced = environ.get("WATCHFILES_FORCE_POLLING", "")
    if forced and forced.lower() not in ("false", "disable", "disabled"):
        return "WATCHFILES_FORCE_POLLING is set"
    kind = filesystem_of(path, mountinfo) if mountinfo else None
    if kind is not None and (kind in _REMOTE_FILESYSTEMS or kind.startswith("fuse.")):
        return f"it is on a {kind} file system, where changes made elsewhere raise no events"
    return None


def _mountinfo() -> str | None:
    try:
        return Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None  # not Linux: events it is, if the platform has them


def _burst_size() -> int:
    try:
        queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except (OSError, ValueError):
        queue = _DEFAULT_QUEUE
    return max(queue // _BURST_SHARE_OF_QUEUE, 64)


class FolderWatcher:
    """Collects the paths that change under `root` (a folder) from a background thread."""

    def __init__(
        self,
        root: Path,
        *,
        mode: Mode = "auto",
        poll_seconds: float = 2.0,
        burst: int | None = None,
    ) -> None:
        self.root = root
        self.wanted: Mode = mode
        self.poll_seconds = poll_seconds
        # Events name absolute paths; the library names them as its root does.
        self._absolute = os.path.abspath(root)
        self._prefix = self._absolute.rstrip("/") + "/"
        self._burst = burst or _burst_size()
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._created: set[str] = set()
        # From `start` on; what changed before is the caller's walk to find.
        self._rescan = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._notify: RustNotify | None = None
        self.mode: Literal["events", "polling"] | None = None

    # -- the caller's side ---------------------------------------------------------------------

    def start(self) -> None:
        """Watch from now on; raises OSError (e.g. FileNotFoundError) when it cannot."""
        self._notify = self._open()
        self._thread = threading.Thread(target=self._run, name="reports-watcher", daemon=True)
        self._thread.start()

    def take(self) -> Changes:
        """The paths changed since the last take (and whether to walk everything instead)."""
        with self._lock:
            changes = Changes(frozenset(self._paths), self._rescan, frozenset(self._created))
            self._paths, self._created = set(), set()
            self._rescan = False
        return changes

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (within a tenth of a second, when it is waiting for events)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------

    def _open(self) -> RustNotify:
        reason = None if self.wanted == "events" else self._polling_reason()
        if reason is None:
            if not os.path.isdir(self._absolute):
                raise FileNotFoundError(f"{self.root} is not a folder")
            try:
                # Errors not ignored: watchfiles would ignore a refused watch too (the
                # kernel's limit), and watch the folder only in part.
                notify = RustNotify([self._absolute], False, False, 0, True, False)
            except FileNotFoundError:
                raise
            except (OSError, RuntimeError) as error:  # inotify limits, unreadable folders
                if self.wanted == "events":
                    raise
                reason = f"file-system events are unavailable ({error})"
            else:
                if self.mode != "events":
                    log.info("watching %s for changes with file-system events", self.root)
                self.mode = "events"
                return notify
        delay_ms = max(int(self.poll_seconds * 1000), 100)
        # Unreadable folders are the walk's to report; polling goes on around them.
        notify = RustNotify([self._absolute], False, True, delay_ms, True, True)
        if self.mode != "polling":
            log.warning(
                "watching %s by polling every %gs, since %s; each poll looks at every file",
                self.root,
                delay_ms / 1000,
                reason,
            )
        self.mode = "polling"
        return notify

    def _polling_reason(self) -> str | None:
        if self.wanted == "polling":
            return "polling was asked for"
        return polling_reason(os.path.realpath(self.root), _mountinfo(), dict(os.environ))

    def _run(self) -> None:
        retry = _RETRY_SECONDS
        while not self._stopping.is_set():
            notify = self._notify
            assert notify is not None
            try:
                result = notify.watch(_DEBOUNCE_MS, _STEP_MS, 0, self._stopping)
            except Exception as error:  # watchfiles raises once and then for ever: start over
                notify.close()
                log.warning(
                    "watching %s failed (%s); starting again in %gs, then the folder is read "
                    "in full",
                    self.root,
                    error,
                    retry,
                )
                if not self._reopen(retry):
                    return
                retry = min(retry * 2, _MAX_RETRY_SECONDS)
                continue
            if result == "stop":
                break
            if not isinstance(result, str):  # a set of changes; "timeout" and "signal" mean none
                self._collect(result)
                retry = _RETRY_SECONDS
        notify = self._notify
        if notify is not None:
            notify.close()

    def _reopen(self, after: float) -> bool:
        """A new watcher after `after` seconds (polling when events fail); False once stopped."""
        while not self._stopping.wait(after):
            try:
                self._notify = self._open()
            except (OSError, RuntimeError) as error:
                log.warning("watching %s is still impossible (%s)", self.root, error)
                after = min(after * 2, _MAX_RETRY_SECONDS)
                continue
            with self._lock:
                self._rescan = True  # what changed while nothing watched is unknown
            return True
        return False

    def _collect(self, changes: Iterable[tuple[int, str]]) -> None:
        relative: set[str] = set()
        created: set[str] = set()
        for change, path in changes:
            if path == self._absolute:
                name = ""
            elif path.startswith(self._prefix):
                name = path[len(self._prefix) :]
            else:
                continue
            relative.add(name)
            if change == _ADDED:
                created.add(name)
        with self._lock:
            if self._rescan:
                return
            self._paths |= relative
            self._created |= created
            if len(relative) >= self._burst or len(self._paths) >= 4 * self._burst:
                self._paths, self._created, self._rescan = set(), set(), True
