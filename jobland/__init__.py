"""JobLand command line and settings."""
