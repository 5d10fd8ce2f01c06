"""The widget tests' fixtures (services with the light test plugins, a session, runners), for
the panel-model tests that drive the same panels without widgets."""

from tests.ui.conftest import runners, services, session  # noqa: F401
