'use strict';
// v3: a bad release: it refuses every option, so BeforeAllowTraffic fails it.
exports.handler = async (event) => ({ statusCode: 400, body: JSON.stringify({ version: 'v3', error: 'broken' }) });
