"""Studio's embedded voice: English text to speech with hibari-tts, offline.

- :mod:`.plugin`: the :class:`~studio_voice_hibari.plugin.HibariVoice` plugin (the voices that
  ship in the package, speed, seed).
- :mod:`studio.plugin_api.speech`: long text, sentence by sentence (shared with Coqui).

Importing this package imports neither hibari nor onnxruntime nor numpy.
"""
