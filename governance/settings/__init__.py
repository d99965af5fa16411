"""Settings: ``base`` holds everything shared; ``local``, ``test`` and
``production`` adjust it. Values that differ between deployments come from
environment variables (see README, "Configuration")."""
