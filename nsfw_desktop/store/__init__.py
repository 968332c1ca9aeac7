"""The results database: its rows, tables, upgrades, learning tables and exports."""
