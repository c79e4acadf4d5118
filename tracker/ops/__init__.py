"""Running the service: structured request and push logs (logs)."""
