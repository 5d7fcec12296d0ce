"""The operators' pages inside the admin: "Link phone" (live QR), instance actions, health.

Views stay thin: they authorize, call instances.service / breaker.service, and render. The
figures they show come from figures.py (fixed query counts) and charts.py (plain SVG).
"""
