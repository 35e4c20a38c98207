"""stackpolicy generators: risk model, providers, documents, review, checks, exports, CLI."""

__version__ = "0.1.0"
