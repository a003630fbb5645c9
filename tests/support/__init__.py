"""Shared test factories, servers and fixtures (registered by tests/conftest.py); test modules import from here, never from each other."""
