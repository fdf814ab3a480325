"""Services that turn reports and decisions into case events and platform actions."""
