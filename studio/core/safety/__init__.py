"""What may run code from model files: the user's consents, and the pickle converter.

- :mod:`studio.core.safety.consent`: :class:`ConsentStore`, consents kept by content hash.
- :mod:`studio.core.safety.converter`: :func:`convert_to_safetensors`, the only place where a
  pickle is fully unpickled (in a child process, after consent for that exact file).

The rules are in docs/safety.md; what plugins use is :mod:`studio.plugin_api.safe_loading`.
"""
