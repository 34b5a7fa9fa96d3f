"""Ranking over an opened index, with no Flask: exactly what `kb eval` and the API share."""
