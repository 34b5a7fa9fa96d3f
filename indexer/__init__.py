"""Build kb's search indexes from the Markdown articles.

Nothing in this package imports Flask: the service only reads what it writes.
"""
