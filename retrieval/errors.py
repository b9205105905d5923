"""Errors the retrieval library raises. The CLI and the bot turn them into messages."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class ReportsNotFoundError(RetrievalError):
    """The reports path does not exist or holds no readable report."""


class UnknownBackendError(RetrievalError):
    """A scoring backend name that we do not know."""


class QuestionsFileError(RetrievalError):
    """The eval questions file is missing or malformed."""


class IndexCacheError(RetrievalError):
    """A saved search index that cannot be used: unreadable, corrupt or from another version."""
