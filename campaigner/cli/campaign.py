"""`campaigner campaign`: define, inspect and control campaigns."""
