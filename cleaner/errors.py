"""Errors a caller can act on; each carries a stable `code` that the CLI and service report."""

from __future__ import annotations


class CleanerError(Exception):
    """Base class: `code` is machine-readable, the message is for people."""

    code = "error"


class EmptyPageError(CleanerError):
    """The page has no text to clean (empty, or only whitespace/markup)."""

    code = "empty_page"


class DecodeError(CleanerError):
    """The bytes could not be turned into text in any plausible encoding."""

    code = "undecodable"


class ModelError(CleanerError):
    """A model file is missing, corrupt, or does not match its manifest."""

    code = "model_invalid"
