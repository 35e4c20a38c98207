"""LLM providers: one module per API behind the small interface in :mod:`.base`."""
