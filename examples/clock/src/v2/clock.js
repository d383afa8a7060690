'use strict';
// v2: adds the "date" option (the change AWS's tutorial ships).
exports.handler = async (event) => {
  const option = (event.queryStringParameters && event.queryStringParameters.option) || event.option || 'time';
  const now = new Date().toISOString();
  const answers = { time: now.slice(11, 19), date: now.slice(0, 10) };
  if (!(option in answers)) return { statusCode: 400, body: JSON.stringify({ error: `unknown option ${option}` }) };
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'v2', [option]: answers[option] }) };
};
