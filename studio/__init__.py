"""Studio: a local, offline-first desktop studio for generative work.

Importing this package is cheap on purpose: it pulls in no Qt, torch or model library.
"""

__version__ = "0.1.0"
