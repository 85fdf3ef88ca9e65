"""Errors a caller can act on; each carries a stable `code` that the CLI and service report."""

from __future__ import annotations


class CleanerError(Exception):
    """Base class: `code` is machine-readable, the message is for people."""

    code = "error"


class CodedError(CleanerError):
    """An error whose code is chosen per instance (which limit, which way a record is wrong)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # Exceptions pickle through `args`; keep the code when one crosses a process boundary.
        return (type(self), (self.code, str(self)))


class EmptyPageError(CleanerError):
    """The page has no text to clean (empty, or only whitespace/markup)."""

    code = "empty_page"


class DecodeError(CleanerError):
    """The bytes could not be turned into text in any plausible encoding."""

    code = "undecodable"


class ModelError(CleanerError):
    """A model file is missing, corrupt, or does not match its manifest."""

    code = "model_invalid"
