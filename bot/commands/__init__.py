"""Commands: their specs, argument parsing, handlers and registry. A command returns a Reply; it never sends."""
