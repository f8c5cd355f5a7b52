"""`campaigner suppress`: the do-not-call list."""
