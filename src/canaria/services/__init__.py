"""The AWS services a function calls besides Lambda, DynamoDB, CodeDeploy and Step
Functions: S3, SQS, SNS, SSM Parameter Store, Secrets Manager, EventBridge, Kinesis and
Cognito user pools, served by moto's server that canaria supervises, with the template's
resources of those types created in it."""

from canaria.services.engine import SERVED, EngineError, ServicesEngine
from canaria.services.provision import Observed, Provisioner, plan, provision

__all__ = [
    "SERVED",
    "EngineError",
    "Observed",
    "Provisioner",
    "ServicesEngine",
    "plan",
    "provision",
]
