"""Orchestration over any Backend, by topic: apply (plan and apply), resolve (names, ids and
prefixes), runs (start, fan out, cancel), follow (wait, logs). No click, no rendering: callers pass
callbacks for progress and a clock/sleep pair, so waiting is testable without real time."""
