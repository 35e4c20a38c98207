"""Review round trip: parse reviewed markdown back into decisions, merge regenerations with
reviewer edits (three-way, with conflict markers), and write everything atomically."""
