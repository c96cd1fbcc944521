"""The git edge: the only package that runs git."""
