"""Dispatches: flow runs handed to the background workers, held under leases, handed again when a lease lapses."""
