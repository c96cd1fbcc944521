"""Release maths: Conventional Commits, the next version, CHANGELOG text (pure)."""
