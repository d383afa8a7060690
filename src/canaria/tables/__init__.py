"""The template's DynamoDB tables, served by dynalite (DynamoDB on LevelDB) that canaria
installs with npm at setup and supervises as a child process, behind a front of canaria's
own that records the tables' streams."""

from canaria.tables.engine import DynamoEngine, dynalite_script
from canaria.tables.streams import TableStreams, table_stream_arn

__all__ = ["DynamoEngine", "TableStreams", "dynalite_script", "table_stream_arn"]
