"""Training, evaluation, calibration and import of router models (the ``orchestrouter`` model subcommands)."""
