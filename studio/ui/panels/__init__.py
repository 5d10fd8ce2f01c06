"""The four panels: Writing, Image, Voice and Captioning, all on one shape (``base``)."""
