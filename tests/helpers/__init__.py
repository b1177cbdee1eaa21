"""Helpers shared by test modules (and by the scripts that build test data).

Test modules never import each other or ``scripts/`` (tests/test_layout.py checks it): a helper two
modules need lives here, a fixture two modules need lives in ``tests/conftest.py``.
"""
