"""The AWS-compatible edge: Lambda, CodeDeploy (and Step Functions) on the control port,
enough for boto3 code written for AWS to run unchanged against canaria."""

from canaria.aws.app import edge_routes
from canaria.aws.backend import EdgeBackend

__all__ = ["EdgeBackend", "edge_routes"]
