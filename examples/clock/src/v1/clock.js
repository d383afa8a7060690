'use strict';
// v1: GET /time answers the time; a direct invocation with {"option": "time"} too.
exports.handler = async (event) => {
  const option = (event.queryStringParameters && event.queryStringParameters.option) || event.option || 'time';
  const now = new Date();
  if (option !== 'time') return { statusCode: 400, body: JSON.stringify({ error: `unknown option ${option}` }) };
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'v1', time: now.toISOString().slice(11, 19) }) };
};
