"""Turn result values into text: human (rich on a TTY, plain when piped) or machine (JSON/YAML)."""
