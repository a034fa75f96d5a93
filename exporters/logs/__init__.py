"""Reading log files: a rotation-safe follower, fast level counting, access-log
parsing, and the areas built on them (log sources, database server logs,
data-exchange job logs)."""
