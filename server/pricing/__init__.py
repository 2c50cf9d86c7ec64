"""The price model: integer money, token usage, price rules and sets, the catalogue and
estimates. Pure values and functions (no I/O), so storage and every service may use them."""
