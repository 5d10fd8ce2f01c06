"""Studio's built-in Coqui TTS plugin: speech from a local Coqui model folder.

- :mod:`.plugin`: the :class:`~studio_voice_coqui.plugin.CoquiVoice` plugin (speaker, language,
  speed, voice cloning from a reference clip with the speaker's consent).
- :mod:`.loading`: finding config and checkpoint, loading through Coqui's Synthesizer without
  downloads, the consent-and-convert path for checkpoints that need full unpickling.
- :mod:`studio.plugin_api.speech`: long text, sentence by sentence (shared with hibari).

Importing this package imports neither torch nor TTS.
"""
