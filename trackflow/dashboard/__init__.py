"""What trackflow publishes into the Prefect UI: artifacts and events."""
