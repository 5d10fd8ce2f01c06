"""The ``studio`` command: the window without a subcommand, headless work with one."""
