"""Reports and questions in other languages: detection, per-language analysis, and a
question that only ever finds reports in its own language (issue 17)."""

from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retrieval import languages
from retrieval.analyzer import Analyzer, AnalyzerSettings
from retrieval.corpus import with_language
from retrieval.formats import parse_jsonl_line, parse_markdown
from retrieval.languages import Detector, detector, normalize_code
from retrieval.models import Report
from retrieval.search import SearchEngine
from retrieval.spelling import SpellingCorrector

WHEN = datetime(2026, 10, 1, tzinfo=UTC)

ENGLISH = (
    "More than 40,000 refugees have reached camps in Turkey, officials said on Monday. "
    "The camps near the border are already full, and aid groups are asking for tents."
)
GERMAN = (
    "Mehr als 40.000 Flüchtlinge sind in den Lagern in der Türkei angekommen, sagten "
    "Beamte am Montag. Die Lager an der Grenze sind bereits überfüllt."
)
SPANISH = (
    "Más de 40.000 refugiados han llegado a los campamentos de Turquía, dijeron las "
    "autoridades el lunes. Los campamentos cerca de la frontera ya están llenos."
)
RUSSIAN = (
    "Более 40 000 беженцев прибыли в лагеря в Турции, заявили в понедельник чиновники. "
    "Лагеря у границы уже переполнены."
)
ARABIC = "وصل أكثر من أربعين ألف لاجئ إلى المخيمات في تركيا، حسبما قال مسؤولون يوم الاثنين."
CHINESE = "据官员周一表示，已有四万多名难民抵达土耳其的营地。边境附近的营地已经人满为患。"
JAPANESE = "月曜日の発表によると、四万人以上の難民がトルコの避難所に到着しました。"


def report(report_id: str, text: str, title: str, language: str | None = None) -> Report:
    return Report(report_id, title, (text,), WHEN, language=language)


@pytest.fixture(scope="module")
def found() -> Detector:
    model = detector()
    assert model is not None, "the pinned py3langid model must load"
    return model


@pytest.fixture(scope="module")
def py3langid() -> Any:
    """py3langid's own identifier of the pinned model, the reference."""
    from py3langid.langid import LanguageIdentifier

    return LanguageIdentifier.from_modelpath(languages.default_model_path(), norm_probs=True)


# -- the model ---------------------------------------------------------------------------


def test_the_bundled_model_is_the_pinned_file() -> None:
    path = languages.default_model_path()
    assert languages.file_sha256(path) == languages.PINNED_SHA256
    assert languages.model_identity(None) == languages.PINNED_SHA256


def test_a_model_that_is_not_one_costs_detection_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "model.npz.xz"
    broken.write_bytes(b"not a model at all")
    with caplog.at_level(logging.WARNING):
        assert detector(str(broken)) is None
        assert detector(str(broken)) is None  # said once: the outcome is remembered
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "LANGUAGE_MODEL" in warnings[0].getMessage()
    # Without detection, every report is in the default language; nothing breaks.
    analyzer = Analyzer(AnalyzerSettings(language_model=str(broken)))
    assert with_language(report("x", GERMAN, "Flüchtlinge"), analyzer).language is None


def test_the_model_is_part_of_the_index_key(tmp_path: Path) -> None:
    copy = tmp_path / "own.npz.xz"
    copy.write_bytes(languages.default_model_path().read_bytes() + b"\0")
    own = Analyzer(AnalyzerSettings(language_model=str(copy)))
    assert own.fingerprint() != Analyzer().fingerprint()


def test_a_second_warm_up_does_not_wait_for_the_first_s_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A cached library builds two engines at start-up (the second with the semantic
    # stage); each warms the detector up.  The second used to wait on the lock that the
    # first's load holds, the whole load long, before the bot could poll.
    entered, release = threading.Event(), threading.Event()

    def slow_load(model: str | None) -> None:
        entered.set()
        release.wait(30)

    monkeypatch.setattr(languages, "_detector", slow_load)
    model = str(tmp_path / "slow-model")
    languages.warm_up(model)
    assert entered.wait(30)
    loading = [t for t in threading.enumerate() if t.name == "language-model" and t.is_alive()]
    second = threading.Thread(target=languages.warm_up, args=(model,))
    second.start()
    second.join(30)
    try:
        assert not second.is_alive(), "the second warm-up waited for the first's load"
        # Joined at exit, not torn down under numpy and numba as a daemon would be.
        assert loading and not any(t.daemon for t in loading)
    finally:
        release.set()
        for thread in loading:
            thread.join(30)
        second.join(30)


# -- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [ENGLISH, GERMAN, SPANISH, RUSSIAN, ARABIC, CHINESE, JAPANESE, "Obama?", "SHOUTING TEXT", ""],
)
def test_the_compiled_detector_gives_py3langid_s_probabilities(
    found: Detector, py3langid: Any, text: str
) -> None:
    expected: dict[str, float] = {}
    for label, probability in py3langid.rank(text):
        code = languages.normalize_code(label) or label
        expected[code] = expected.get(code, 0.0) + probability
    got = found.probabilities(text)
    assert got.keys() == expected.keys()
    assert all(abs(got[code] - expected[code]) < 1e-5 for code in expected)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (ENGLISH, "en"),
        (GERMAN, "de"),
        (SPANISH, "es"),
        (RUSSIAN, "ru"),
        (ARABIC, "ar"),
        (CHINESE, "zh"),
        (JAPANESE, "ja"),
    ],
)
def test_a_report_s_language_is_detected(text: str, code: str) -> None:
    assert with_language(report("r", text, "Report"), Analyzer()).language == code


def test_metadata_wins_over_detection() -> None:
    said = report("r", GERMAN, "Bericht", language="en")
    assert with_language(said, Analyzer()).language == "en"


def test_a_text_too_short_to_tell_keeps_no_language(found: Detector) -> None:
    assert found.detect("Obama?") is None
    assert found.detect("12 345 — 67") is None


@pytest.mark.parametrize(
    ("value", "code"),
    [("de", "de"), ("de-AT", "de"), ("pt_BR", "pt"), (" DE ", "de"), ("zh-Hant", "zh")],
)
def test_metadata_language_tags_become_codes(value: str, code: str) -> None:
    assert normalize_code(value) == code


@pytest.mark.parametrize("value", [None, "", "German!", "x", 42, "d3", "deutsch-DE"])
def test_what_is_no_language_tag_is_none(value: object) -> None:
    assert normalize_code(value) is None


def test_front_matter_and_jsonl_name_the_language() -> None:
    text = "---\ntitle: Bericht\nlanguage: de-DE\n---\nEin kurzer Bericht.\n"
    assert parse_markdown(text, report_id="a", path="a.md", mtime=WHEN).language == "de"
    line = '{"text": "Un breve informe.", "lang": "es"}'
    assert parse_jsonl_line(line, default_id="b", path="b.jsonl", mtime=WHEN).language == "es"


def test_web_pages_word_files_and_pdfs_name_the_language() -> None:
    from retrieval.format_docx import parse_docx
    from retrieval.format_html import parse_html

    page = (
        '<!DOCTYPE html><html class="x" lang="ru-RU"><head><title>Доклад</title></head>'
        f"<body><article><h1>Доклад</h1><p>{RUSSIAN}</p><p>{RUSSIAN}</p></article></body></html>"
    ).encode()
    assert parse_html(page, report_id="p", path="p.html", mtime=WHEN).language == "ru"

    import docx

    document = docx.Document()
    document.add_paragraph(GERMAN)
    document.core_properties.language = "de-CH"
    data = io.BytesIO()
    document.save(data)
    assert parse_docx(data.getvalue(), report_id="d", path="d.docx", mtime=WHEN).language == "de"

    from fpdf import FPDF

    from retrieval.format_pdf import parse_pdf

    pdf = FPDF()
    pdf.set_lang("es-ES")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Mas de 40.000 refugiados han llegado a los campamentos de Turquia.")
    parsed = parse_pdf(bytes(pdf.output()), report_id="f", path="f.pdf", mtime=WHEN)
    assert parsed.language == "es"


# -- per-language analysis --------------------------------------------------------------


def test_each_language_has_its_stemmer_stopwords_and_prefix() -> None:
    analyzer = Analyzer()
    assert analyzer.tokens("The refugees") == ["refuge"]  # English: plain terms, as ever
    german = analyzer.for_language("de")
    assert german.tokens("Die Flüchtlinge und den Flüchtlingen") == ["de:fluchtling"] * 2
    assert analyzer.for_language("ru").tokens("беженцев беженцы") == ["ru:беженц"] * 2
    assert analyzer.for_language("es").tokens("los refugiados") == ["es:refugi"]
    assert analyzer.for_language("de") is german  # one analyzer per language


def test_a_language_snowball_lacks_is_not_stemmed() -> None:
    ukrainian = Analyzer().for_language("uk")
    assert ukrainian.tokens("біженців прибули") == ["uk:біженців", "uk:прибули"]


def test_scripts_without_spaces_are_searched_by_bigrams() -> None:
    chinese = Analyzer().for_language("zh")
    assert chinese.tokens("土耳其难民") == ["zh:土耳", "zh:耳其", "zh:其难", "zh:难民"]
    # A lone character stays one term, and Latin letters and numbers inside stay whole.
    assert chinese.tokens("京 iPhone手机 699公里") == [
        "zh:京",
        "zh:iphone",
        "zh:手机",
        "zh:699",
        "zh:公里",
    ]
    spans = chinese.spans("到土耳其。")
    assert [(term, start, end) for term, start, end in spans] == [
        ("zh:到土", 0, 2),
        ("zh:土耳", 1, 3),
        ("zh:耳其", 2, 4),
    ]


def test_combining_marks_stay_inside_their_word() -> None:
    hindi = Analyzer().for_language("hi")
    assert len(hindi.tokens("भारत सरकार")) == 2  # not "भ", "रत", "सरक", "र"


def test_spelling_never_corrects_into_another_language() -> None:
    known = {"de:gebaude", "degebade", "rebuilding"}
    # The English term is the commoner one: only the language rule keeps it out.
    corrector = SpellingCorrector(known, lambda term: 1.0 if ":" in term else 2.0)
    assert corrector.correction("de:gebade") == "de:gebaude"
    assert corrector.correction("dxgebade") == "degebade"
    assert corrector.correction("de:rebuildin") == "de:rebuildin"


# -- questions find reports in their own language ----------------------------------------


@pytest.fixture(scope="module")
def multilingual() -> SearchEngine:
    return SearchEngine.build(
        [
            report("en", ENGLISH, "Refugees reach camps in Turkey"),
            report("de", GERMAN, "Flüchtlinge erreichen Lager in der Türkei"),
            report("ru", RUSSIAN, "Беженцы прибыли в Турцию"),
            report("zh", CHINESE, "难民抵达土耳其"),
            report("ja", JAPANESE, "難民がトルコに到着"),
        ]
    )


@pytest.mark.parametrize(
    ("question", "report_id"),
    [
        ("How many refugees have reached camps in Turkey?", "en"),
        ("Wie viele Flüchtlinge sind in den Lagern angekommen?", "de"),
        ("Сколько беженцев прибыло в лагеря в Турции?", "ru"),
        ("有多少难民抵达土耳其的营地？", "zh"),
        ("何人の難民がトルコに到着しましたか？", "ja"),
    ],
)
def test_a_question_is_answered_from_its_own_language(
    multilingual: SearchEngine, question: str, report_id: str
) -> None:
    hits = multilingual.search(question)
    assert hits, question
    assert {hit.report.id for hit in hits} == {report_id}


def test_the_engine_counts_its_languages(multilingual: SearchEngine) -> None:
    assert multilingual.languages() == {"en": 1, "de": 1, "ru": 1, "zh": 1, "ja": 1}


def test_a_question_in_a_language_no_report_is_in_is_refused() -> None:
    english_only = SearchEngine.build([report("en", ENGLISH, "Refugees reach camps in Turkey")])
    question = "Wie viele Flüchtlinge sind in den Lagern in der Türkei angekommen?"
    assert english_only.search(question) == []
    assert english_only.question_languages(question).missing == "de"
    asked = "How many refugees have reached camps in Turkey?"
    assert english_only.question_languages(asked).missing is None
    assert english_only.search(asked)


def test_a_name_alone_is_looked_for_in_every_plausible_language(found: Detector) -> None:
    chosen = found.question_languages("Merkel?", {"en", "de"})
    assert chosen.missing is None
    assert set(chosen.search) == {"en", "de"}


def test_norwegian_stopwords_come_from_bokmal_s_list() -> None:
    norwegian = Analyzer().for_language("no")
    assert norwegian.tokens("og det er flyktningene") == ["no:flyktning"]


def test_an_indexed_report_is_the_loaded_one_with_its_language() -> None:
    from retrieval.corpus import is_indexed_as

    loaded = report("de", GERMAN, "Flüchtlinge")
    indexed = with_language(loaded, Analyzer())
    assert indexed != loaded and indexed.language == "de"
    assert is_indexed_as(indexed, loaded)
    assert not is_indexed_as(indexed, report("de", GERMAN + " Neu.", "Flüchtlinge"))
    assert not is_indexed_as(indexed, report("de", GERMAN, "Flüchtlinge", language="en"))
