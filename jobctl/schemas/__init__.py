"""Package data: the jobctl/v1 JSON Schema (also at schemas/ in the repository)."""
