"""`reports-bot chat`: the same answers as the bot, rendered for a terminal."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot import terminal
from bot.config import PROJECT_SEEDS
from bot.terminal import BOLD, RESET, ChatSession, run_chat
from retrieval.search import SearchEngine
from tests.conftest import BEST, HOSTILE, PARAGRAPH, make_hit, make_report

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine() -> SearchEngine:
    return SearchEngine.from_path(PROJECT_SEEDS)


def unwrapped(shown: str) -> str:
    """Terminal output with the quote's wrapping and "│" prefixes undone."""
    return " ".join(line.strip().removeprefix("│").strip() for line in shown.splitlines())


def reader(lines: list[str]) -> object:
    feed = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return read_line


# -- pure rendering --------------------------------------------------------------------


def test_hit_is_quoted_with_best_sentence_marked_speaker_and_attribution() -> None:
    hit = make_hit(PARAGRAPH, BEST, speaker="Faiz Amr")

    shown = terminal.render_hit(hit, color=False)

    assert f"**{BEST}**" in unwrapped(shown)
    assert "— quoted: Faiz Amr" in shown
    assert "Syria Battle · Reuters · 22 Jul 2012 · https://example.com/syria?a=1&b=2" in shown


def test_a_pdf_answer_names_its_page_and_the_report_its_author() -> None:
    hit = make_hit(PARAGRAPH, BEST, report=replace(make_report(), author="Jane Doe"))
    hit = replace(hit, passage=replace(hit.passage, page=3))

    shown = terminal.render_hit(hit, color=False)

    assert "Syria Battle · Reuters · by Jane Doe · 22 Jul 2012 · p. 3 · https://" in shown


def test_on_a_terminal_the_best_sentence_is_bold() -> None:
    shown = terminal.render_hit(make_hit(PARAGRAPH, "The rebels claim a new crossing."), True)
    assert f"{BOLD}The rebels claim a new crossing.{RESET}" in shown
    assert "**" not in shown


def test_quote_lines_are_wrapped_and_prefixed() -> None:
    shown = terminal.render_hit(make_hit(PARAGRAPH, BEST), color=False)
    quote_lines = [line for line in shown.splitlines() if line.startswith("  │ ")]
    assert len(quote_lines) > 1
    assert all(len(line) <= terminal.WIDTH for line in quote_lines)


def test_control_characters_in_reports_cannot_drive_the_terminal() -> None:
    evil = "Clear \x1b[2J screen\x07 and \x1b]0;title\x07 now."
    report = make_report(title=f"T\x1b[31m{HOSTILE}", source="S\x08", url=None)
    shown = terminal.render_hit(make_hit(evil, evil, report=report, speaker="X\x1b"), False)

    assert "\x1b" not in shown and "\x07" not in shown and "\x08" not in shown
    assert HOSTILE in shown  # HTML-ish text is shown as it is: a terminal is not HTML


def test_a_huge_passage_is_cut_like_in_telegram() -> None:
    best = "The answer is here."
    text = " ".join(["Filler words go on."] * 600) + " " + best
    shown = terminal.render_hit(make_hit(text, best), color=False)

    quote = " ".join(line.removeprefix("  │ ") for line in shown.splitlines() if "│" in line)
    assert quote.startswith("…**The answer is here.**")
    assert len(quote) < 800


def test_counter_points_at_more() -> None:
    hit = make_hit(PARAGRAPH, BEST)
    assert "(answer 1 of 3; /more for the next)" in terminal.render_hit(hit, False, 1, 3)
    assert "(answer 3 of 3)" in terminal.render_hit(hit, False, 3, 3)


def test_not_found_suggests_latest() -> None:
    assert "/latest" in terminal.render_not_found(color=False)


# -- the conversation, over the seed report ---------------------------------------------


def test_question_more_and_the_end_of_the_hits(engine: SearchEngine) -> None:
    session = ChatSession(engine)

    first = session.handle("How many refugees have entered camps in Turkey?")
    assert first is not None and "Over 40,000 refugees" in unwrapped(first)
    total = len(session.hits)
    replies = [session.handle("/more") for _ in range(total - 1)]
    assert all(reply and "│" in reply for reply in replies)
    assert session.handle("/more") == "No more answers to that question."


def test_speaker_is_named(engine: SearchEngine) -> None:
    reply = ChatSession(engine).handle("What did Faiz Amr say about the border crossings?")
    assert reply is not None and "— quoted: " in reply and "Faiz Amr" in reply
    assert "Seizing the border crossings does not have strategic importance" in unwrapped(reply)


def test_not_found_quotes_nothing(engine: SearchEngine) -> None:
    session = ChatSession(engine)
    reply = session.handle("How do I bake sourdough bread?")
    assert reply == terminal.render_not_found(color=False)
    assert (
        session.handle("/more") == "Ask a question first; /more then shows the next-best passage."
    )


def test_a_question_in_a_language_no_report_is_in_is_told_so(engine: SearchEngine) -> None:
    reply = ChatSession(engine).handle("Wie viele Flüchtlinge sind in der Türkei angekommen?")
    assert reply == (
        "I have no reports in German, so I cannot answer questions in German.\n"
        "The reports are in English; ask in English."
    )


def test_commands(engine: SearchEngine) -> None:
    session = ChatSession(engine)
    latest = session.handle("/latest")
    assert latest is not None and latest.startswith("**Newest reports (1 of 1)**")
    assert "Syria Battle" in latest
    assert session.handle("/latest 2") is not None
    assert session.handle("/latest abc") == "No reports on “abc” yet."
    on_topic = session.handle("/latest 3 refugees Turkey")
    assert on_topic is not None and on_topic.startswith("**Newest reports on “refugees Turkey”")
    assert "Syria Battle" in on_topic
    assert session.handle("/latest 0") == "Usage: /latest [N] [TOPIC] with N from 1 to 20."
    assert session.handle("/latest <&>") == "Usage: /latest [N] [TOPIC] with N from 1 to 20."
    assert "/more" in (session.handle("/help") or "")
    assert session.handle("/nope") == "Unknown command /nope; try /help."
    assert session.handle("/ask") == "Usage: /ask QUESTION"
    assert "Over 40,000" in (session.handle("/ask How many refugees entered camps?") or "")
    assert session.handle("   ") == ""
    assert session.handle("/quit") is None
    assert session.handle("/EXIT") is None


def test_run_chat_reads_until_eof_and_echoes_piped_questions(engine: SearchEngine) -> None:
    out = io.StringIO()
    read = reader(["Who commands the rebels in Aleppo province?", "", "/latest 1"])

    assert run_chat(ChatSession(engine), read, out, interactive=False) == 0  # type: ignore[arg-type]

    text = unwrapped(out.getvalue())
    assert text.startswith("**reports-bot**")
    assert "> Who commands the rebels in Aleppo province?" in text
    assert "Abdul-Jabbar Mohammed Aqidi" in text
    assert "Newest reports (1 of 1)" in text


def test_run_chat_stops_at_quit(engine: SearchEngine) -> None:
    out = io.StringIO()
    read = reader(["/quit", "How many refugees have entered camps in Turkey?"])
    run_chat(ChatSession(engine), read, out, interactive=True)  # type: ignore[arg-type]
    assert "Over 40,000" not in out.getvalue()


# -- the real entry point ------------------------------------------------------------------


def run_main(*args: str, stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from bot.terminal import main; sys.exit(main(*sys.argv[1:] or [None]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def test_main_answers_piped_questions_from_a_reports_folder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(PROJECT_SEEDS, reports)
    (reports / "harvest.md").write_text(
        "---\ntitle: Harvest <news> & more\nsource: Farm Weekly\npublished: 2024-05-01\n---\n\n"
        "The wheat harvest reached 12 million tonnes this year, officials said.\n\n"
        "Rain delayed the barley crop in the north.\n",
        encoding="utf-8",
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path / "state")}

    done = run_main(str(reports), stdin="How big was the wheat harvest?\n", env=env)

    assert done.returncode == 0, done.stderr
    assert "12 million tonnes" in unwrapped(done.stdout)
    assert "Harvest <news> & more · Farm Weekly · 1 May 2024" in done.stdout
    assert "Traceback" not in done.stderr


def test_main_with_a_missing_folder_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "state")}
    done = run_main(str(tmp_path / "nope"), stdin="", env=env)
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_main_over_a_folder_with_no_readable_report_says_what_to_do(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "notes.xlsx").write_bytes(b"PK\x03\x04")
    (reports / "dated.md").write_text(
        "---\npublished: 9999-12-31T23:59:59-05:00\n---\nText.\n", encoding="utf-8"
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path / "state")}

    done = run_main(str(reports), stdin="How big was the wheat harvest?\n", env=env)

    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    *warnings, message = done.stderr.splitlines()
    assert warnings == [
        f"{reports}: skipped 1 file of type .xlsx: not a report format "
        "(use .txt, .md, .json, .jsonl, .html, .pdf, .docx)",
        f'skipped {reports}/dated.md: "published": 9999-12-31 23:59:59-05:00 is out of range '
        "once converted to UTC; use a real date between the years 1 and 9999",
    ]
    assert message == (
        f"reports-bot chat: no reports loaded from {reports}: nothing in it could be read "
        f'(1 problem; the first: {reports}/dated.md: "published": 9999-12-31 23:59:59-05:00 '
        "is out of range once converted to UTC; use a real date between the years 1 and "
        "9999). Add reports there (.txt, .md, .json, .jsonl, .html, .pdf or .docx files), "
        "or point --reports or REPORTS_DIR at a folder that holds some."
    )


def test_no_reports_message_without_any_report_file() -> None:
    assert terminal.no_reports_message("/srv/reports", ()) == (
        "no reports loaded from /srv/reports: it holds no report file (.txt, .md, .json, "
        ".jsonl, .html, .pdf, .docx). Add reports there (.txt, .md, .json, .jsonl, .html, "
        ".pdf or .docx files), or point --reports or REPORTS_DIR at a folder that holds some."
    )


def test_problems_lists_the_files_that_could_not_be_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(
        "Good Report\n\nThe bridge has 4 towers.\n", encoding="utf-8"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.jsonl").write_text('{"title": "x"\n', encoding="utf-8")
    session = ChatSession(SearchEngine.from_path(tmp_path), root=tmp_path)
    shown = session.handle("/problems")
    assert shown is not None and shown.startswith("**1 problem could not be read:**")
    assert "  sub/bad.jsonl:1: invalid JSON" in shown and str(tmp_path) not in shown


def test_problems_when_everything_was_read(engine: SearchEngine) -> None:
    assert ChatSession(engine).handle("/problems") == terminal.NO_PROBLEMS
    assert "/problems" in terminal.render_help()


def test_latest_n_on_a_topic(engine: SearchEngine) -> None:
    shown = ChatSession(engine).handle("/latest 1 refugees Turkey")
    assert shown is not None and shown.startswith(
        "**Newest reports on “refugees Turkey” (1 of 1)**"
    )
    assert "Syria Battle" in shown


def test_the_engines_of_the_commands_and_the_bot_use_language_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LANGUAGE_MODEL reaches `chat`, `search`/`eval` (bot/cli.py) and the bot's library
    alike, so they agree on the index cache's key and share the cache."""
    from bot import cli
    from bot.config import Settings
    from bot.live.reports import open_library
    from retrieval import languages

    model = tmp_path / "model.npz.xz"
    shutil.copyfile(languages.default_model_path(), model)
    env = {"LANGUAGE_MODEL": str(model), "DATA_DIR": str(tmp_path / "state")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()

    chat = terminal.load_engine(settings, PROJECT_SEEDS)
    assert chat.settings.analyzer.language_model == str(model)
    args = cli._parser().parse_args(["search", "harvest", "--reports", str(PROJECT_SEEDS)])
    assert cli._engine(args).settings == chat.settings
    library = open_library(replace(settings, reports_dir=PROJECT_SEEDS))
    try:
        assert library.engine.settings == chat.settings
    finally:
        library.close()
    assert len(list(settings.index_cache_dir.glob("index-*"))) == 1  # one entry, shared
