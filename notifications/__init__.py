"""Live updates over WebSocket and the notification inbox."""
