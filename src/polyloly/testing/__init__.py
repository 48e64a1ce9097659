"""In-memory fakes of the ports, for tests and bench; nothing in ``src`` imports this package."""
