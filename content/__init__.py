"""The knowledge base (YAML data files), its linter, Vietnamese normalisation and the matcher."""
