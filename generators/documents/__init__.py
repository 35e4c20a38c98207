"""The two documents: the tiered policy and the eval suite (models, builders, rendering)."""
