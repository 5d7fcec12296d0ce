"""Live updates for browsers: the outbox relay, the frames it sends, and who may watch what.

The worker is another process, so the database outbox (`InstanceEvent`) is the only way its
changes reach a page (DESIGN "Shape"): each web process tails it once and fans events out to the
websocket consumers of that process (instances/consumers.py).
"""
