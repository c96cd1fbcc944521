"""The commands: read what they need once, plan with the core, apply through the git edge."""
