"""Live conversations: the relay between the workers that stream model replies and the web
processes that serve them to the browser (relay.py)."""
