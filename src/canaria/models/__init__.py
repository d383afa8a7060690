"""Frozen dataclasses without I/O: the vocabulary every package shares."""

from canaria.models.app import (
    MAX_SLOW_TOLERANCE_MS,
    REHEARSAL_MIN_DETECTABLE,
    AlarmSpec,
    ApiSpec,
    Application,
    DeploymentConfigSpec,
    DeploymentPreference,
    FunctionConfig,
    FunctionSpec,
    JudgeSettings,
    RouteSpec,
    SkippedResource,
    StateMachineSpec,
    TableSpec,
    TriggerConfig,
    Undetectable,
)
from canaria.models.runtime import Alias, InvokeResult, Version

__all__ = [
    "MAX_SLOW_TOLERANCE_MS",
    "REHEARSAL_MIN_DETECTABLE",
    "AlarmSpec",
    "Alias",
    "ApiSpec",
    "Application",
    "DeploymentConfigSpec",
    "DeploymentPreference",
    "FunctionConfig",
    "FunctionSpec",
    "InvokeResult",
    "JudgeSettings",
    "RouteSpec",
    "SkippedResource",
    "StateMachineSpec",
    "TableSpec",
    "TriggerConfig",
    "Undetectable",
    "Version",
]
