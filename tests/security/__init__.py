"""Security tests: every finding of issue 10 reproduced as a request or command, asserting the safe outcome."""
