"""Core of the Aiven for InfluxDB backup product: plain Python, no Lambda types."""
