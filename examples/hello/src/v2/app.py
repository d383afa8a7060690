import json
import os


def handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"{os.environ['GREETING']}, {name}, from v2",
                "version": context.function_version,
            }
        ),
    }
