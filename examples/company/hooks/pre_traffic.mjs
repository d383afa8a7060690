// PreTraffic hook, as written for AWS (Node.js, AWS SDK for JavaScript v3): before any
// traffic moves, create a company through the new save version and delete it through the
// new delete version; report the outcome to CodeDeploy.
import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

const lambda = new LambdaClient({});
const codedeploy = new CodeDeployClient({});

async function call(functionVersion, method, body, companyId) {
  const event = {
    version: '2.0',
    rawPath: '/company',
    requestContext: { http: { method, path: '/company' } },
    pathParameters: companyId ? { company_id: companyId } : null,
    body: body === undefined ? null : JSON.stringify(body),
  };
  const answer = await lambda.send(new InvokeCommand({ FunctionName: functionVersion, Payload: JSON.stringify(event) }));
  const payload = JSON.parse(Buffer.from(answer.Payload).toString('utf8'));
  if (answer.FunctionError) throw new Error(`${functionVersion} failed: ${JSON.stringify(payload)}`);
  return payload;
}

async function check() {
  const saved = await call(process.env.SAVE_VERSION, 'POST', { name: 'PreTraffic probe', employees: 1 });
  const body = JSON.parse(saved.body || '{}');
  if (saved.statusCode !== 201 || !body.company_id) {
    throw new Error(`save must answer 201 with company_id, answered ${JSON.stringify(saved)}`);
  }
  const deleted = await call(process.env.DELETE_VERSION, 'DELETE', undefined, body.company_id);
  if (deleted.statusCode !== 204) {
    throw new Error(`delete must answer 204, answered ${JSON.stringify(deleted)}`);
  }
}

export const handler = async (event) => {
  let status = 'Succeeded';
  try {
    await check();
  } catch (err) { // a hook must always report
    console.log(`PreTraffic check failed: ${err.message}`);
    status = 'Failed';
  }
  await codedeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
    deploymentId: event.DeploymentId,
    lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    status,
  }));
  return status;
};
