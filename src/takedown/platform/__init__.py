"""The host platform's side: content events in, action webhooks out, the demo platform."""
