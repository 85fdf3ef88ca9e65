"""cleaner: label every unit of a scraped page content / boilerplate / spam, excise injected
spans, and return the sanitized article with an audit of everything removed."""

__version__ = "1.0.0"

from cleaner.cleaning import Cleaner, clean, default_cleaner  # noqa: E402
from cleaner.result import Line, Result, Span  # noqa: E402

__all__ = ["Cleaner", "Line", "Result", "Span", "clean", "default_cleaner", "__version__"]
