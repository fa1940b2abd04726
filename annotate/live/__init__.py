"""Live conversations' transport: the relay between the workers that stream replies and the web
processes that send them to browsers as Server-Sent Events (relay.py)."""
