"""Upstream transport: the HTTP client to upstream accounts, its errors, the answer it reads and
what counts as a failure. Below the relay, the pools and storage; imports only settings."""
