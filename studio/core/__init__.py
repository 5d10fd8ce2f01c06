"""Studio's core: project store, plugin registry, model cache, settings, media I/O. No Qt here."""
