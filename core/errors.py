"""The one kind of error that a person fixes outside the code."""

from __future__ import annotations


class FixableError(RuntimeError):
    """A file, setting, service or command-line value needs fixing, and the message says which and how, in one
    line. Every such error of the project derives from it (the catalog's, the store's, the model's ...), so the
    command line shows its message alone and anything else, a bug, with its traceback."""
