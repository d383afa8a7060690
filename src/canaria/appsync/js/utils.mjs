// canaria's @aws-appsync/utils: the `util`, `runtime` and `extensions` that AWS AppSync's
// APPSYNC_JS runtime gives resolver code. The npm package of that name only describes them
// (its objects are empty): these follow the AWS AppSync Developer Guide ("Built-in
// utilities", "Runtime utilities", "Extensions" and the util.time, util.dynamodb,
// util.transform, util.str, util.math and util.http pages). The resolver code finds them
// both by importing the package and as globals, as in AppSync.

import { randomBytes, randomUUID } from 'node:crypto';

import { dynamodbUtil } from './attributes.mjs';
import { renderFilter } from './expressions.mjs';
import { EarlyReturnSignal, ErrorSignal, current, nowMs } from './state.mjs';
import { timeUtil } from './time.mjs';

// ---- errors -------------------------------------------------------------------------------

function errorRecord(message, errorType, data, errorInfo) {
  return {
    message: message === undefined || message === null ? null : String(message),
    errorType: errorType ?? null,
    data: data ?? null,
    errorInfo: errorInfo ?? null,
  };
}

// Throws: nothing after it in the handler runs. The outcome carries the error even when the
// code catches it (APPSYNC_JS has no try/catch to catch it with).
function error(message, errorType, data, errorInfo) {
  const record = errorRecord(message, errorType, data, errorInfo);
  const call = current();
  if (call.error === null) call.error = record;
  throw new ErrorSignal(record);
}

function appendError(message, errorType, data, errorInfo) {
  current().errors.push(errorRecord(message, errorType, data, errorInfo));
}

function unauthorized() {
  const info = current().info ?? {};
  const message = info.fieldName && info.parentTypeName
    ? `Not Authorized to access ${info.fieldName} on type ${info.parentTypeName}`
    : 'Not Authorized';
  return error(message, 'Unauthorized');
}

// ---- identifiers --------------------------------------------------------------------------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KSUID_EPOCH_S = 1400000000;

// 48 bits of milliseconds then 80 random bits, Crockford base32: 26 characters
function autoUlid() {
  let time = '';
  for (let t = nowMs(), i = 0; i < 10; i += 1, t = Math.floor(t / 32)) {
    time = CROCKFORD[t % 32] + time;
  }
  let bits = BigInt(`0x${randomBytes(10).toString('hex')}`);
  let random = '';
  for (let i = 0; i < 16; i += 1, bits >>= 5n) random = CROCKFORD[Number(bits & 31n)] + random;
  return time + random;
}

// 32 bits of seconds since the KSUID epoch then 128 random bits, base62: 27 characters
function autoKsuid() {
  const seconds = Math.max(0, Math.floor(nowMs() / 1000) - KSUID_EPOCH_S);
  const head = seconds.toString(16).padStart(8, '0');
  let n = BigInt(`0x${head}${randomBytes(16).toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(27, '0');
}

// ---- encoding -----------------------------------------------------------------------------

// as Java's URLEncoder (application/x-www-form-urlencoded, UTF-8)
function urlEncode(value) {
  return encodeURIComponent(String(value))
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

function urlDecode(value) {
  return decodeURIComponent(String(value).replace(/\+/g, ' '));
}

// as Apache Commons' StringEscapeUtils.escapeEcmaScript
function escapeJavaScript(value) {
  const named = { "'": "\\'", '"': '\\"', '\\': '\\\\', '/': '\\/', '\b': '\\b', '\n': '\\n',
    '\t': '\\t', '\f': '\\f', '\r': '\\r' };
  let out = '';
  for (const ch of String(value)) {
    const code = ch.codePointAt(0);
    if (named[ch] !== undefined) out += named[ch];
    else if (code < 32 || code > 0x7f) {
      for (const unit of ch.length === 2 ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [code]) {
        out += `\\u${unit.toString(16).toUpperCase().padStart(4, '0')}`;
      }
    } else out += ch;
  }
  return out;
}

// ---- the rest of util ---------------------------------------------------------------------

const AUTH_TYPES = {
  API_KEY: 'API Key Authorization',
  AWS_IAM: 'IAM Authorization',
  AMAZON_COGNITO_USER_POOLS: 'User Pool Authorization',
  OPENID_CONNECT: 'Open ID Connect Authorization',
  AWS_LAMBDA: 'Lambda Authorization',
};

// The caller's auth type when it gave one, else what the identity's shape tells.
function authType() {
  const call = current();
  if (call.authType) return AUTH_TYPES[call.authType] ?? call.authType;
  const id = call.identity;
  if (id === null || id === undefined) return AUTH_TYPES.API_KEY;
  if ('resolverContext' in id) return AUTH_TYPES.AWS_LAMBDA;
  if ('accountId' in id || 'userArn' in id) return AUTH_TYPES.AWS_IAM;
  if ('username' in id || 'groups' in id || 'defaultAuthStrategy' in id) {
    return AUTH_TYPES.AMAZON_COGNITO_USER_POOLS;
  }
  return AUTH_TYPES.OPENID_CONNECT;
}

const HOP_BY_HOP = ['transfer-encoding', 'connection', 'host', 'expect', 'keep-alive', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'te', 'content-length'];
const RESERVED_RESPONSE = ['access-control-allow-credentials', 'access-control-allow-origin',
  'access-control-expose-headers', 'access-control-max-age', 'access-control-allow-methods',
  'access-control-allow-headers', 'vary', 'content-type'];

function copyHeaders(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!HOP_BY_HOP.includes(name.toLowerCase())) out[name] = value;
  }
  return out;
}

// A header AppSync refuses is left out and reported as a ResponseHeaderError.
function addResponseHeader(name, value) {
  const lower = typeof name === 'string' ? name.toLowerCase() : '';
  let refusal = null;
  if (lower === '') refusal = 'a response header needs a name';
  else if (value === null || value === undefined) refusal = `response header ${name} has no value`;
  else if (HOP_BY_HOP.includes(lower) || RESERVED_RESPONSE.includes(lower)) {
    refusal = `response header ${name} is restricted`;
  } else if (lower.startsWith('x-amzn-') || lower.startsWith('x-amz-')) {
    refusal = `response header ${name} starts with a restricted prefix (x-amzn-, x-amz-)`;
  }
  if (refusal !== null) appendError(refusal, 'ResponseHeaderError');
  else current().headers[name] = value;
}

function notServed(path, instead) {
  return () => {
    throw new Error(`${path} is not served by canaria${instead ? `: ${instead}` : ''}`);
  };
}

// VTL's $util has these; APPSYNC_JS does not, and AppSync fails code that calls them.
const VTL_ONLY = {
  isNull: 'x === null || x === undefined',
  isNullOrEmpty: '!x',
  isNullOrBlank: '!x || !x.trim()',
  defaultIfNull: 'x ?? fallback',
  defaultIfNullOrEmpty: 'x || fallback',
  defaultIfNullOrBlank: '(x && x.trim()) ? x : fallback',
  isString: "typeof x === 'string'",
  isNumber: "typeof x === 'number'",
  isBoolean: "typeof x === 'boolean'",
  isList: 'Array.isArray(x)',
  isMap: "typeof x === 'object' && x !== null && !Array.isArray(x)",
  typeOf: 'typeof x',
  toJson: 'JSON.stringify(x)',
  parseJson: 'JSON.parse(x)',
};

export const util = {
  autoId: () => randomUUID(),
  autoUlid,
  autoKsuid,
  error,
  appendError,
  unauthorized,
  matches: (pattern, value) => new RegExp(`^(?:${pattern})$`).test(String(value)),
  authType,
  escapeJavaScript,
  urlEncode,
  urlDecode,
  base64Encode: (value) => Buffer.from(String(value), 'utf8').toString('base64'),
  base64Decode: (value) => Buffer.from(String(value), 'base64').toString('utf8'),
  time: timeUtil,
  dynamodb: dynamodbUtil,
  transform: {
    toDynamoDBFilterExpression: (filter) => {
      const rendered = renderFilter(filter);
      return rendered === null ? null : JSON.stringify(rendered);
    },
    toDynamoDBConditionExpression: (condition) => {
      const rendered = renderFilter(condition);
      return rendered === null ? null : JSON.stringify(rendered);
    },
    toElasticsearchQueryDSL: notServed('util.transform.toElasticsearchQueryDSL'),
    toSubscriptionFilter: notServed(
      'util.transform.toSubscriptionFilter',
      'build the { filterGroup: [{ filters: [...] }] } object yourself',
    ),
  },
  str: {
    normalize: (value, form) => String(value).normalize(String(form).toUpperCase()),
  },
  math: {
    roundNum: (n) => Math.round(n),
    minVal: (a, b) => Math.min(a, b),
    maxVal: (a, b) => Math.max(a, b),
    randomDouble: () => Math.random(),
    randomWithinRange: (start, end) => start + Math.floor(Math.random() * (end - start)),
  },
  http: {
    copyHeaders,
    addResponseHeader,
    addResponseHeaders: (headers) => {
      for (const [name, value] of Object.entries(headers ?? {})) addResponseHeader(name, value);
    },
  },
  rds: { toJsonObject: notServed('util.rds.toJsonObject') },
  xml: {
    toMap: notServed('util.xml.toMap'),
    toJsonString: notServed('util.xml.toJsonString'),
  },
};

for (const [name, instead] of Object.entries(VTL_ONLY)) {
  Object.defineProperty(util, name, {
    enumerable: false,
    value: () => {
      throw new TypeError(
        `util.${name} is a VTL helper ($util.${name}); AppSync's APPSYNC_JS runtime has no ` +
          `util.${name} and fails code that calls it: write ${instead} instead`,
      );
    },
  });
}

// runtime.earlyReturn(obj?, { skipTo: 'END' | 'NEXT' }?) ends the handler now with `obj` as
// its result ("Runtime utilities", AWS AppSync Developer Guide):
// - in a function's request handler: the data source and the function's response handler are
//   skipped; the next function's request handler runs (the pipeline's response handler after
//   the last function), with `obj` as ctx.prev.result;
// - in a pipeline resolver's request handler: the functions are skipped and the pipeline's
//   response handler runs right away;
// - in a unit resolver's request handler: the data source and response handler are skipped
//   and `obj` is the field's value;
// - in a response handler: `obj` is the handler's result;
// - skipTo 'END' skips the rest of the pipeline (its response handler runs next), 'NEXT'
//   skips the rest of this function only.
// What to skip is the caller's decision; the outcome says the call returned early and how.
export const runtime = {
  earlyReturn(obj, returnOptions) {
    const skipTo = returnOptions?.skipTo ?? null;
    if (skipTo !== null && skipTo !== 'END' && skipTo !== 'NEXT') {
      throw new TypeError(
        `runtime.earlyReturn: skipTo must be 'END' or 'NEXT', not ${JSON.stringify(skipTo)}`,
      );
    }
    const call = current();
    if (call.early === null) call.early = { value: obj, skipTo };
    throw new EarlyReturnSignal();
  },
};

function recorder(method, names) {
  return (...args) => {
    const entry = { method };
    names.forEach((name, i) => {
      entry[name] = args[i] ?? null;
    });
    current().extensions.push(entry);
  };
}

// Recorded for the caller, which serves subscriptions and the cache.
export const extensions = {
  setSubscriptionFilter: recorder('setSubscriptionFilter', ['filter']),
  setSubscriptionInvalidationFilter: recorder('setSubscriptionInvalidationFilter', ['filter']),
  invalidateSubscriptions: recorder('invalidateSubscriptions', ['invalidation']),
  evictFromApiCache: recorder('evictFromApiCache', ['typeName', 'fieldName', 'keyValuePair']),
};
