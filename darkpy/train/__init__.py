"""Training: the engine, Darknet-style backups, distributed helpers and the detection task."""
