"""The error type for problems a person can fix (bad input, missing file, disabled plugin)."""


class UserError(Exception):
    """A problem with what the user asked for or gave; the message is one clear sentence.

    Front ends show the message as is (the command line exits with code 2); anything else
    that escapes is an internal error whose traceback goes to the log.
    """
