"""Entry point of `python -m singer_tasks` (the commands live in singer_tasks.cli)."""

from singer_tasks.cli import main

raise SystemExit(main())
