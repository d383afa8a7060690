import itertools
import json
import os

# v3's bug: state kept across invocations in a warm environment breaks every third
# request it serves. The first request of a fresh environment (the one the PreTraffic
# hook sends) always works, so only real traffic shows the fault.
_served = itertools.count(1)


def handler(event, context):
    if next(_served) % 3 == 0:
        raise RuntimeError("v3 lost its greeting")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"{os.environ['GREETING']} from v3"}),
    }
