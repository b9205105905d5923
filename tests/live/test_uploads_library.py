"""Uploads against a real library: `Library.index_file` reads a just-written file at once
(no settle time) and drops a deleted one; `Uploads.keep` checks before it replaces; the
example question is answered from the new report; what was kept is measured (size,
sha256) and the uploads it replaced are named."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.live.uploads import Failure, UploadFailed, Uploads, example_question
from retrieval.library import Library

SEED = "Syria Battle\n\nOver 40,000 refugees have already entered camps in Turkey.\n"
GLACIER = (
    "Glacier Observatory Opens\n\nThe glacier observatory opened with twelve seismometers.\n\n"
    '"We will hear the ice move," glaciologist Ingrid Solberg said.\n'
)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    root = tmp_path / "reports"
    root.mkdir()
    (root / "seed.txt").write_text(SEED, encoding="utf-8")
    # A settle time no test waits out: only index_file can read a fresh file.
    return Library.open(root, settle_seconds=3600)


def write(uploads: Uploads, name: str, text: str) -> Path:
    path = uploads.incoming(name)
    path.write_text(text, encoding="utf-8")
    return path


def test_index_file_reads_a_fresh_file_at_once_and_drops_a_deleted_one(library: Library) -> None:
    (library.root / "fresh.txt").write_text(GLACIER, encoding="utf-8")
    assert library.refresh() is None  # not settled: a refresh does not read it
    change, content = library.index_file("fresh.txt")
    assert change is not None and [r.title for r in change.added] == ["Glacier Observatory Opens"]
    assert content is not None and len(content.parts) == 1
    assert library.engine.report("fresh") is not None
    (library.root / "fresh.txt").unlink()
    change, content = library.index_file("fresh.txt")
    assert content is None and change is not None and change.removed == ("fresh",)


def test_keep_indexes_an_upload_and_offers_a_question_it_answers(library: Library) -> None:
    uploads = Uploads(library)
    stored = uploads.keep(write(uploads, "glacier.txt", GLACIER))
    assert stored.name == "glacier.txt" and not stored.replaced
    assert [r.title for r in stored.reports] == ["Glacier Observatory Opens"]
    assert stored.passages >= 1
    assert stored.speakers == ("Ingrid Solberg",)
    kept = (library.root / "uploads" / "glacier.txt").read_bytes()
    assert stored.size == len(GLACIER.encode("utf-8")) == len(kept)
    assert stored.sha256 == hashlib.sha256(kept).hexdigest()
    assert stored.dropped == ()
    question = example_question(library.engine, stored.reports, stored.speakers)
    assert question == "What did Ingrid Solberg say?"
    [hit] = library.engine.search(question, top=1)
    assert hit.report.id == "uploads/glacier"
    assert uploads.names() == ["glacier.txt"]
    assert not any((library.root / "uploads" / ".incoming").iterdir())


def test_the_same_stem_in_another_format_replaces_the_upload(library: Library) -> None:
    uploads = Uploads(library)
    uploads.keep(write(uploads, "note.txt", "Note\n\nThe ferry leaves at 6.\n"))
    stored = uploads.keep(write(uploads, "note.md", "# Note\n\nThe ferry leaves at 7.\n"))
    assert stored.replaced and uploads.names() == ["note.md"]
    assert stored.dropped == ("note.txt",)  # its record goes with it
    assert [p.reason for p in library.engine.problems] == []  # no duplicate id
    assert "7" in " ".join(library.engine.report("uploads/note").paragraphs)  # type: ignore[union-attr]
    again = uploads.keep(write(uploads, "note.md", "# Note\n\nThe ferry leaves at 8.\n"))
    assert again.replaced and again.dropped == ()  # the same name: its record is replaced
    assert again.sha256 != stored.sha256


def test_an_unreadable_upload_is_refused_and_keeps_the_old_one(library: Library) -> None:
    uploads = Uploads(library)
    uploads.keep(write(uploads, "data.jsonl", '{"title": "Owls", "text": "41 owls."}\n'))
    with pytest.raises(UploadFailed) as refused:
        uploads.keep(write(uploads, "data.jsonl", "{broken\n"))
    assert refused.value.failure is Failure.UNREADABLE and "JSON" in refused.value.detail
    assert (uploads.folder / "data.jsonl").read_text(encoding="utf-8").startswith('{"title"')
    assert library.engine.report("uploads/data:1") is not None


def test_forget_deletes_the_file_and_its_reports(library: Library) -> None:
    uploads = Uploads(library)
    uploads.keep(write(uploads, "gone.txt", GLACIER))
    change = uploads.forget("gone.txt")
    assert change is not None and change.removed == ("uploads/gone",)
    assert uploads.names() == []
    with pytest.raises(FileNotFoundError):
        uploads.forget("gone.txt")
    with pytest.raises(FileNotFoundError):
        uploads.forget("../seed.txt")
    assert (library.root / "seed.txt").exists()


def test_a_single_file_reports_dir_takes_no_uploads(tmp_path: Path) -> None:
    file = tmp_path / "one.txt"
    file.write_text(SEED, encoding="utf-8")
    with pytest.raises(UploadFailed) as refused:
        Uploads(Library.open(file)).incoming("x.txt")
    assert refused.value.failure is Failure.NOT_A_FOLDER
