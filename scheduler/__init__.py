"""Broadcast scheduling and durable delivery (APScheduler triggers over database state).

Filled in by the broadcasts work (issue 5); the Q&A core does not schedule anything yet.
"""
