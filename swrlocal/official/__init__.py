"""Official image center: the system organization `library` and its read-only catalog."""
