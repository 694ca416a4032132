"""TutorForge tests: unit tests per domain, integration tests against real servers (see tests/support)."""
