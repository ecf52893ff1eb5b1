"""SSO applications: who may see and manage them, and what a valid one looks like."""
