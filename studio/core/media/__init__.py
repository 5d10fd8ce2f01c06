"""Media in and out of projects: recognising content, importing files, exporting assets.

- :mod:`.detect`: formats by magic bytes, and their extensions.
- :mod:`.validation`: full decoding checks of images, audio and text.
- :mod:`.importing`: files to assets (:func:`~.importing.import_files`).
- :mod:`.export`: assets to files with embedded recipes (:func:`~.export.export_assets`).
- :mod:`.embedded_recipe`: where recipes live in exported files, and reading them back.
"""
