"""Every sentence a Telegram user can read, in English, in one place.

These English sentences are also the keys (gettext's msgids) of the translations in
`bot/telegram/locales/<language>/LC_MESSAGES/bot.po`; `bot/telegram/i18n.py` picks
the user's and gives the render modules a `Words` that translates them.  So
rewording a sentence here means rewording its entry in every catalogue too
(tests/telegram/test_catalogues.py fails until they agree).

Plain constants are sent as they are; templates are filled with `str.format`, and
every value put into them is escaped Telegram HTML already (the render modules do
that: `bot/telegram/html.py`, `html_live.py`, `html_admin.py`).  The tags here (<b>,
<i>, <code>) are the only markup in the catalogue.  A sentence with a number in it
is a `Plural`, since languages differ in how a number agrees with its noun.

What is not translated: strings with neither a letter nor punctuation (the emoji of
/sources), and the `EXAMPLE_` constants, which are searches over the reports, so they
stay in the reports' language, not the user's.

`COMMANDS` is the one table of commands: the menu (setMyCommands, per language) and
/help are both built from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plural:
    """A sentence with a number in it: `one` for 1 and `many` for any other number in
    English (gettext's msgid and msgid_plural); each catalogue has its language's forms."""

    one: str
    many: str


@dataclass(frozen=True, slots=True)
class Command:
    """One bot command: `menu` for Telegram's command menu (at most 256 characters),
    `does` for its line in /help, after `/name args`."""

    name: str
    menu: str
    does: str
    args: str = ""

    @property
    def usage(self) -> str:
        """In English: "/latest [N] [TOPIC]"."""
        return f"/{self.name} {self.args}" if self.args else f"/{self.name}"


COMMANDS: tuple[Command, ...] = (
    Command("start", "Welcome, and what I know", "what I know and example questions"),
    Command(
        "ask",
        "Ask a question: /ask QUESTION",
        "ask a question (in groups, or mention me, or reply to me)",
        "QUESTION",
    ),
    Command(
        "latest",
        "The newest reports: /latest [N] [TOPIC]",
        "the N newest reports (default {default}, at most {limit}), on a topic when you name one",
        "[N] [TOPIC]",
    ),
    Command(
        "subscribe",
        "Get new reports on a topic: /subscribe TOPIC",
        "I send you each new report on it as it arrives",
        "TOPIC",
    ),
    Command("subscriptions", "The topics you follow", "the topics you follow"),
    Command(
        "unsubscribe",
        "Stop following: /unsubscribe TOPIC or all",
        "stop following one topic or all of them",
        "TOPIC, N or all",
    ),
    Command("help", "How to use me", "this message"),
)
# What Telegram shows in an empty chat with the bot (setMyDescription, at most 512
# characters) and on its profile (setMyShortDescription, at most 120).
DESCRIPTION = (
    "I answer questions about news reports by quoting the passage that answers them, "
    "with its title, source and date. When the reports hold no answer, I say so "
    "instead of guessing."
)
SHORT_DESCRIPTION = "Questions about news reports, answered with a quoted passage and its source."
# Searches over the reports, in their language (see above): not translated.
EXAMPLE_QUESTION = "Who commands the rebels?"
EXAMPLE_TOPIC = "refugees Turkey"

# -- answers ------------------------------------------------------------------------------
QUOTED = "Quoted: <b>{speaker}</b>"
# In an attribution, for a report without a title, and after a date that is only the
# file's modification date.
UNTITLED = "Untitled report"
FILE_DATE = "{day} (file date)"
# In the folded context under an answer, where the short quote above it stood.
CONTEXT_GAP = " […] "
ANSWER_POSITION = "<i>Answer {position} of {total}</i>"
# In an attribution: the author a report names, and the page of a PDF an answer is on.
BY_AUTHOR = "by {author}"
PAGE = "p. {page}"
MORE_BUTTON = "More ({position}/{total})"
NOT_FOUND = (
    "I couldn't find that in the reports, so I won't guess.\n"
    "Try rephrasing with the names, places or numbers you are after, "
    "or see what I have with /latest."
)
# Instead of NOT_FOUND when the question is surely in a language no report is in: its
# name ({language}, in the reader's language), then the reports' own, most reports first.
NO_REPORTS_IN_LANGUAGE = (
    "I have no reports in {language}, so I cannot answer questions in {language}."
)
REPORTS_IN_LANGUAGE = "The reports are in {language}; ask in {language}."
# {languages}: a list, "English and Russian", "English, German, and 3 others".
REPORTS_IN_LANGUAGES = "The reports are in {languages}; ask in one of those."
# The last item of a list of languages, for the ones it does not name.
OTHER_LANGUAGES = Plural("{count} other", "{count} others")
ASK_USAGE = "Ask me like this: <code>/ask {example}</code>"
# Button presses get these as a notification (Telegram shows at most 200 characters).
EXPIRED = "This answer has expired — please ask again."
NO_MORE = "There are no more answers to this question."
ERROR = "Sorry, something went wrong on my side. Please try again in a moment."

# -- /latest --------------------------------------------------------------------------------
NO_REPORTS_YET = "I have no reports yet."
NEWEST_HEADER = "<b>Newest reports</b> ({shown} of {total})"
LIST_CUT_SHORT = "<i>… and {left} more: ask for fewer.</i>"
TITLES_TOO_LONG = "The newest reports have titles too long to list; ask me a question instead."
AT_MOST = "At most {limit} at a time."
LATEST_USAGE = (
    "“{argument}” is not a number of reports. "
    "Use /latest for the {default} newest, or /latest N with N from 1 to {limit}."
)
ON_TOPIC = "On “{topic}”."
NONE_ON_TOPIC = (
    "No reports on {topic} yet. <code>/subscribe {command}</code> and I'll tell you when one "
    "arrives."
)

# -- /start, /help and hints ------------------------------------------------------------------
HELLO = "Hello!"
HELLO_NAME = "Hello, {name}!"
INTRO = (
    "👋 <b>{greeting}</b> I answer questions about news reports by quoting "
    "the passage that answers them, with where it comes from."
)
NOTHING_LOADED = "I have no reports loaded yet, so I cannot answer anything for now."
KNOW_REPORTS = Plural("I know {count} report.", "I know {count} reports.")
KNOW_REPORTS_NEWEST = Plural(
    "I know {count} report; the newest is from {day}.",
    "I know {count} reports; the newest is from {day}.",
)
TRY_ASKING = "Try asking:"
START_FOOTER = "/latest shows the newest reports; /help lists everything I can do."
HELP_TITLE = "<b>How to use me</b>"
HELP_INTRO = (
    "Ask a question in plain words. I reply with the passage of a report that "
    "answers it, the key sentence in bold, and the report's title, source and date. "
    "Press <b>More</b> for the next-best passage."
)
HELP_LINE = "{usage} — {does}"
HELP_INLINE = "In any chat, type <code>{mention} QUESTION</code> to pick an answer inline."
UNKNOWN_COMMAND = (
    "I don't know the command {command}. Ask me a question in plain words, or see /help."
)
NOT_TEXT = "I can only read text. Ask me a question in words, or see /help."

# -- limits (bot/telegram/limits.py) -----------------------------------------------------------
TOO_LONG = "Your question was long, so I read only its first {limit:,} characters."
NOTHING_TO_SEARCH = (
    "There are no words in that for me to search. Ask me a question in words, or see /help."
)
SLOW_DOWN = "Slow down, please: I answer up to {limit} messages a minute from one person."
TRY_AGAIN_IN = Plural("Try again in {count} second.", "Try again in {count} seconds.")
SLOW_DOWN_PRESS = "Slow down, please: too many requests in a minute. Try again shortly."

# -- access (bot/telegram/access.py) -----------------------------------------------------------
PRIVATE_BOT = "Sorry, this bot is private: only the people its owner has allowed can use it."
ASK_THE_OWNER = "If you should have access, ask its owner to add you ({ids})."
YOUR_USER_ID = "your user id is <code>{id}</code>"
THIS_CHAT_ID = "this chat's id is <code>{id}</code>"
PRIVATE_BOT_PRESS = "Sorry, this bot is private: you are not on its list of allowed users."
# To a user who is allowed, in a group that is not.
GROUP_NOT_ALLOWED = (
    "Sorry, I only answer in the groups my owner has allowed, and this is not one of them. "
    "Ask me in a private chat instead."
)
ADD_THIS_GROUP = "To have me here, ask my owner to add this group ({ids})."
GROUP_NOT_ALLOWED_PRESS = (
    "Sorry, I only answer in the groups my owner has allowed. Ask me in a private chat."
)
PRIVATE_BOT_INLINE_BUTTON = "This bot is private"
# Between the ids in ASK_THE_OWNER.
IDS_SEPARATOR = "; "

# -- subscriptions (bot/telegram/html_live.py) ---------------------------------------------------
TOPIC = "“{topic}”"
# Between the topics of a push's header, and between file suffixes.
LIST_SEPARATOR = ", "
SUBSCRIBE_USAGE = (
    "Tell me what to follow, e.g. <code>/subscribe {example}</code>. When a new report on it "
    "arrives I send you the passage that matches, quoted, with where it comes from."
)
YOU_FOLLOW = "You follow:"
ALREADY_FOLLOWING = "You already follow {topic}. /subscriptions lists them all."
SUBSCRIBED = (
    "🔔 Subscribed to {topic}. When a new report on it arrives I'll send you the passage "
    "that matches.\n/latest {command} shows the newest ones already here; "
    "/subscriptions lists yours; /unsubscribe stops them."
)
TOPIC_TOO_LONG = "That topic is too long: keep it under {limit} characters, a few key words."
TOPIC_WITHOUT_WORDS = (
    "{topic} has no words I can search for. Use names, places or other key words, e.g. "
    "<code>/subscribe {example}</code>."
)
TOO_MANY_TOPICS = (
    "You already follow {limit} topics, the most I keep per chat. "
    "Drop one with /unsubscribe TOPIC first (/subscriptions lists them)."
)
SUBSCRIPTIONS_OFF = "Subscriptions are not available on this bot right now."
FOLLOW_NOTHING = "You follow no topics. Start with e.g. <code>/subscribe {example}</code>."
FOLLOWING_TOPICS = Plural("<b>You follow {count} topic</b>", "<b>You follow {count} topics</b>")
UNSUBSCRIBE_HINT = "/unsubscribe TOPIC (or its number) stops one; /unsubscribe all stops every one."
NOTHING_TO_STOP = "You follow no topics, so there is nothing to stop."
UNSUBSCRIBE_USAGE = (
    "Which one? <code>/unsubscribe TOPIC</code>, its number, or "
    "<code>/unsubscribe all</code>.\n\n{topics}"
)
UNSUBSCRIBED_ONE = "🔕 Unsubscribed from {topic}."
# Only ever said of two topics or more.
UNSUBSCRIBED_ALL = "🔕 Unsubscribed from all {count} topics."
NOT_FOLLOWING_ANY = "You don't follow {topic}; you follow no topics at all."
NOT_FOLLOWING = "You don't follow {topic}. You follow:\n{topics}"
PUSH_HEADER = "🔔 <b>New report</b> on {topics}{more}"
PUSH_MORE_TOPICS = " and {count} more"
PUSH_OVERFLOW = "🔔 More new reports on {topic} arrived at once. /latest {command} lists them."

# -- admins: uploads, /sources, /problems, /forget (bot/telegram/uploads.py, admin.py) ---------
# Listed (menu and /help) only to ADMIN_USER_IDS, in their private chats.
ADMIN_COMMANDS: tuple[Command, ...] = (
    Command(
        "sources",
        "Admin: reports per folder, feed and channel",
        "how many reports come from the folder, each feed and each channel, and the newest",
    ),
    Command(
        "problems",
        "Admin: the files that could not be read",
        "the files that could not be read, and why",
    ),
    Command(
        "forget",
        "Admin: remove an uploaded or channel report",
        "remove a report you uploaded (by its file name) or a channel post (by its t.me link)",
        "NAME or LINK",
    ),
)
HELP_ADMIN = "<b>For admins</b> (send me a report file to add it):"
UPLOAD_ADMINS_ONLY = "Sorry, only this bot's admins can add reports; ask me a question instead."
UPLOADS_OFF = "I can't take reports here: they are read once and never rescanned."
UPLOAD_NO_NAME = (
    "That document has no usable file name, so I can't tell its format; "
    "send it with a name like report.txt."
)
UPLOAD_UNSUPPORTED = "I can't read {suffix} files; send one of: {suffixes}."
UPLOAD_NO_SUFFIX = "That file name has no extension; send one of: {suffixes}."
UPLOAD_TOO_BIG = "That file is too big: I take report files up to {limit}."
UPLOAD_NOT_A_FOLDER = "I can't add reports: REPORTS_DIR names one file, not a folder."
UPLOAD_UNREADABLE = "I couldn't read {name}: {reason}. It was not added."
# The reason in UPLOAD_UNREADABLE when the file was read but held no report.
NO_REPORT_IN_FILE = "no report"
UPLOAD_WRITE_FAILED = "I couldn't save {name}: {reason}. It was not added."
UPLOAD_DOWNLOAD_FAILED = (
    "I couldn't download {name} from Telegram ({reason}); please send it again."
)
UPLOAD_ADDED = "📥 Added <b>{title}</b> ({passages}) from {name}."
UPLOAD_REPLACED = "📥 Replaced {name}: <b>{title}</b> ({passages})."
UPLOAD_MORE_REPORTS = Plural(" and {count} more report", " and {count} more reports")
PASSAGES = Plural("{count} passage", "{count} passages")
# A size that is not a whole number of KiB, MiB or GiB (those are the same in every language).
BYTES = Plural("{count:,} byte", "{count:,} bytes")
UPLOAD_TRY = "Try: <code>{question}</code>"
UPLOAD_NO_EXAMPLE = "Ask me about it in your own words."
UPLOAD_FORGET_HINT = "<code>/forget {name}</code> removes it."
SOURCES_TITLE = Plural("<b>Sources</b> ({count} report)", "<b>Sources</b> ({count} reports)")
SOURCE_LINE = "{kind} {label}: {count}, newest {day}"
# Under the title: each language the reports are in, "English 812, German 40".
SOURCE_LANGUAGES = "🌐 Languages: {languages}"
LANGUAGE_COUNT = "{language} {count}"
# After the uploads' line, when the store recorded who sent the newest upload.
SOURCE_UPLOADER = " (last upload from admin {user_id}, {day})"
SOURCE_FOLDER, SOURCE_UPLOADS, SOURCE_FEED, SOURCE_CHANNEL = "📁", "📥", "📰", "📣"
FOLDER_LABEL, UPLOADS_LABEL = "the reports folder", "uploaded here"
FEED_LABEL, CHANNEL_LABEL = "a feed without a title", "a channel without a title"
NO_SOURCES = "I have no reports yet."
NO_PROBLEMS = "✅ Every file could be read."
PROBLEMS_TITLE = Plural(
    "<b>{count} file could not be read</b>", "<b>{count} files could not be read</b>"
)
PROBLEM_LINE = "• <code>{path}</code>: {reason}"
PROBLEMS_MORE = "<i>… and {count} more (the log lists them all).</i>"
FORGET_USAGE = (
    "Which report? <code>/forget NAME</code> with an uploaded file's name, or "
    "<code>/forget LINK</code> with a channel post's t.me link. /sources lists the sources."
)
FORGOT_UPLOAD = "🗑 Removed {name}: it is no longer answered from."
FORGOT_POST = "🗑 Removed the channel post {link}: it is no longer answered from."
FORGET_FOLDER_REPORT = (
    "{name} is a file in the reports folder, not an upload: remove it from the folder. "
    "I only forget reports sent to me here or posted in a channel."
)
FORGET_FEED_REPORT = (
    "{name} comes from a feed: take the feed out of FEEDS instead. "
    "I only forget reports sent to me here or posted in a channel."
)
FORGET_UNKNOWN = (
    "I have no uploaded report or channel post called {name}. /sources lists the sources."
)
