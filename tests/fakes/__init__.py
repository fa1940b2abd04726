"""Verified fakes of external services (LLM providers) for tests and the benchmark."""
