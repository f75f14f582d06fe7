"""The workflow language (parse, validate, expressions, variables) and the runner."""
