"""The deterministic risk model: factors → tier floor + rationale, for every action."""
