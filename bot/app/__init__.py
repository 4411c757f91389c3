"""Entry points: the `liqwatch` command line (the composition root), start-up checks, the offline demo, logging."""
