"""The pure core: text and immutable values in, text and values out; no files, no git, no clock."""
