// AfterAllowTraffic in the AWS SDK for JavaScript v3 (provided by nodejs18.x and later):
// an ES module with async/await. It asks the new version for the date, then reports.
import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';

const codedeploy = new CodeDeployClient({});
const lambda = new LambdaClient({});

export const handler = async (event) => {
  let status = 'Failed';
  try {
    const answer = await lambda.send(new InvokeCommand({
      FunctionName: process.env.NewVersion,
      Payload: JSON.stringify({ option: 'date' }),
    }));
    const result = JSON.parse(Buffer.from(answer.Payload).toString());
    console.log('Result:', JSON.stringify(result));
    if (!answer.FunctionError && result.statusCode === 200) status = 'Succeeded';
  } catch (err) {
    console.log('test invocation failed', err);
  }
  await codedeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
    deploymentId: event.DeploymentId,
    lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    status,
  }));
  return status;
};
