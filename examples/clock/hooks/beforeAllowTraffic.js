'use strict';
// BeforeAllowTraffic, as AWS's CodeDeploy tutorial writes it: the AWS SDK for JavaScript v2
// (provided by the nodejs16.x runtime), callbacks, the new version named by NewVersion.
const aws = require('aws-sdk');
const codedeploy = new aws.CodeDeploy({ apiVersion: '2014-10-06' });
const lambda = new aws.Lambda();

exports.handler = (event, context, callback) => {
  const deploymentId = event.DeploymentId;
  const lifecycleEventHookExecutionId = event.LifecycleEventHookExecutionId;
  const functionToTest = process.env.NewVersion;
  console.log('Testing new function version: ' + functionToTest);

  const params = {
    FunctionName: functionToTest,
    Payload: '{"option": "time"}',
    InvocationType: 'RequestResponse',
  };
  lambda.invoke(params, (err, data) => {
    let status = 'Failed';
    if (err) {
      console.log(err, err.stack);
    } else {
      const result = JSON.parse(data.Payload);
      console.log('Result: ' + JSON.stringify(result));
      if (!data.FunctionError && result.statusCode == 200) status = 'Succeeded';
    }
    codedeploy.putLifecycleEventHookExecutionStatus(
      { deploymentId, lifecycleEventHookExecutionId, status },
      (err2) => {
        if (err2) {
          console.log('CodeDeploy Status update failed', err2);
          callback('CodeDeploy Status update failed');
        } else {
          console.log('CodeDeploy status updated successfully: ' + status);
          callback(null, 'CodeDeploy status updated successfully');
        }
      },
    );
  });
};
