"""Writing: the task templates and (for long requests) the plan-then-write engine."""
