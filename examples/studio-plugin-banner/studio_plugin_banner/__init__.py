"""An example Studio plugin: draws the prompt as a block-letter banner (no model)."""
