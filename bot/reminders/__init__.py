"""Deadlines and what the bot sends on its own: the ladder, the outbox, the tick."""
