"""The queue: the only code that reads or writes the database tables.

One module per table family. Every function takes a `Connection` inside a transaction the caller
opened (`Database.read()` / `Database.write()`), so a command decides what is atomic.
"""
