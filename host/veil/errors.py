"""The one error type of the host package: caught once in the CLI, shown as one line."""


class VeilError(Exception):
    """An expected failure with a message fit for the user; `exit_code` is what the CLI returns."""

    exit_code = 1
