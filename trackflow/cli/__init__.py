"""The ``trackflow`` command line: one module per command group."""
