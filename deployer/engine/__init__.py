"""Carrying out plans wave by wave and running workflows."""
