"""Errors that the CLI reports as one line and a non-zero exit."""


class EnhancerLMError(Exception):
    """A failure the user can act on; the message names the file, record and reason."""


class InputError(EnhancerLMError):
    """Bad input: a file, record or parameter that cannot be used as given."""
