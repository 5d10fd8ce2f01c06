"""The error a plugin raises for what the user gave it: exit code 2 and one clear sentence."""

from __future__ import annotations


class InputError(ValueError):
    """The model files, option values or input media the user gave cannot be used.

    Raise it for the user's own mistakes (a folder where a file is needed, a model folder
    without its tokenizer, an input the plugin cannot take), with a message that says what is
    wrong and what to do. Studio shows the message as it is and the command line exits with
    code 2; any other exception is reported as the plugin failing (exit code 1).
    """
