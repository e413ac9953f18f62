"""One module per ``diamond`` subcommand: ``HELP``, ``configure(parser)``, ``run(args)``."""
