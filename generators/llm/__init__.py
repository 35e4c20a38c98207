"""The LLM path: per-system slices, prompts, validation, the safety floor, merging answers."""
