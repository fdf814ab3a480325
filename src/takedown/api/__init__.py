"""The HTTP API: thin FastAPI routers over `takedown.system.Takedown`."""
