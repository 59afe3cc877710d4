"""shelver's SQL: `migrations/*.sql` applied at start-up, `queries/*.sql` named queries.

This package holds only data files; `data.migrations` and `data.queries` read them through
``importlib.resources`` so they work from a wheel as well as from a checkout.
"""
