"""Test kits Navarch ships for plugin authors (pytest-based).

``navarch.testing.store.StoreConformance`` is the store contract's conformance suite:
subclass it, provide a ``store`` fixture, and pytest runs every contract test against
your backend. Needs ``pytest`` and ``pytest-asyncio`` (``pip install navarch[testing]``).
"""
