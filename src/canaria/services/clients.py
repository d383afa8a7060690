"""boto3 clients of the services engine for canaria's own calls (readers, pipes,
destinations): one per service, made on first use, with no retries of their own (the
callers try again as Lambda would)."""

from __future__ import annotations

from typing import Any

from canaria.models.arns import REGION


class EngineClients:
    """``clients("sqs")``: the engine's SQS client, made once."""

    def __init__(self, endpoint: str, read_timeout_s: float = 10.0) -> None:
        self.endpoint = endpoint  # the services engine, through its relay
        self.read_timeout_s = read_timeout_s
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            import boto3
            from botocore.config import Config

            client = self._clients[service] = boto3.session.Session().client(
                service,
                endpoint_url=self.endpoint,
                region_name=REGION,
                aws_access_key_id="canaria",
                aws_secret_access_key="canaria",
                config=Config(retries={"max_attempts": 1}, read_timeout=self.read_timeout_s),
            )
        return client


__all__ = ["EngineClients"]
