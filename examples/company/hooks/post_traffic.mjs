// PostTraffic hook, as written for AWS (Node.js, AWS SDK for JavaScript v3): run the
// integration-test state machine, which calls every route through the API, and report
// its outcome to CodeDeploy.
import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';

const stepfunctions = new SFNClient({});
const codedeploy = new CodeDeployClient({});

export const handler = async (event) => {
  let status = 'Failed';
  try {
    const run = await stepfunctions.send(new StartSyncExecutionCommand({
      stateMachineArn: process.env.INTEGRATION_TEST_ARN,
      input: JSON.stringify({ deploymentId: event.DeploymentId }),
    }));
    console.log(`integration test ${run.executionArn}: ${run.status}`);
    if (run.status === 'SUCCEEDED') status = 'Succeeded';
    else console.log(`error: ${run.error}: ${run.cause}`);
  } catch (err) { // a hook must always report
    console.log(`could not run the integration test: ${err.message}`);
  }
  await codedeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
    deploymentId: event.DeploymentId,
    lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    status,
  }));
  return status;
};
