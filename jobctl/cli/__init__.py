"""The click shell over jobctl's core: parse arguments, call the core, hand results to render."""
