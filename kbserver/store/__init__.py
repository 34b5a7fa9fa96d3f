"""The database (SQLite today): feedback, the query log, tokens and learned examples.

`db` opens and migrates it; one module per table holds that table's SQL, and every query
returns small frozen dataclasses. Nothing here reads the request: callers pass the caller.
"""
