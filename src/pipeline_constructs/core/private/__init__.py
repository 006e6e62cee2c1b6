"""Internals shared by the pipeline constructs: not public API, may change without notice."""
