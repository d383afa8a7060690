"""GraphQL APIs as AWS AppSync serves them: a template's ``AWS::Serverless::GraphQLApi`` and
``AWS::AppSync::*`` resources, their resolvers (``APPSYNC_JS`` code, Lambda functions
invoked directly) and data sources, on a port of their own."""
