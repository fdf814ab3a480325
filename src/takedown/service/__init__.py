"""The service by area; `takedown.system.Takedown` puts the areas together."""
