"""The template's DynamoDB tables, served by dynalite (DynamoDB on LevelDB) that canaria
installs with npm at setup and supervises as a child process."""

from canaria.tables.engine import DynamoEngine, dynalite_script

__all__ = ["DynamoEngine", "dynalite_script"]
