"""The admin's tools: the organisation, the ledger, backups, the burden report, the CLI."""
