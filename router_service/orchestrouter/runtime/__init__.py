"""Service runtime shared by the router and the scorer: config parsing, errors, server bootstrap, telemetry."""
