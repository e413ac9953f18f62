"""Actors of the domain modules (membership, obligations, recognition, health)."""
