"""Errors that the CLI reports as one line and a non-zero exit."""

from __future__ import annotations


class EnhancerLMError(Exception):
    """A failure the user can act on; the message names the file, record and reason."""


class InputError(EnhancerLMError):
    """Bad input: a file, record or parameter that cannot be used as given.

    `parameters` names the arguments the message speaks of, spelled as in Python (`val_fold`); the message names
    values, never command-line flags, and the CLI shows each such name as its flag (`--val-fold`).
    """

    def __init__(self, message: str, parameters: tuple[str, ...] = ()):
        super().__init__(message)
        self.parameters = parameters
