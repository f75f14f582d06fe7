"""Command-line interface: thin commands over the engine, output formats, the progress view."""
