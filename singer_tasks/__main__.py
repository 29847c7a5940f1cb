"""Entry point of `python -m singer_tasks` (the commands live in singer_tasks.cli.main)."""

from singer_tasks.cli.main import main

raise SystemExit(main())
