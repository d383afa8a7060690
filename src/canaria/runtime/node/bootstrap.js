'use strict';
// canaria's Node.js runtime client: Lambda's handler contract over the Lambda Runtime API.
//
// Started as `node bootstrap.js` in the function's code directory with AWS_LAMBDA_RUNTIME_API,
// LAMBDA_TASK_ROOT and _HANDLER set. It loads the handler once (CommonJS, or ES module for
// `.mjs` and `"type": "module"`), then serves one invocation at a time: GET .../next, call the
// handler (async, or with a callback), POST .../response or .../error. Errors have the shape
// of Lambda's Node.js runtime: {errorType, errorMessage, trace}.
const net = require('net');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');
const { performance } = require('perf_hooks');
const traceenv = require('./traceenv');
const streaming = require('./streaming');

const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');
// canaria serves the same API on a Unix socket for this bootstrap: no TCP work per message.
// The variable is canaria's, not the function's: removed before the handler loads.
const SOCKET = process.env._CANARIA_RUNTIME_SOCKET;
delete process.env._CANARIA_RUNTIME_SOCKET;
const BASE = '/2018-06-01/runtime';
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();
// nodejs24.x and later take async handlers only: no callback, no context.done/succeed/fail,
// no callbackWaitsForEmptyEventLoop (Lambda refuses a handler declared with a callback).
const RUNTIME_MAJOR = Number((/^AWS_Lambda_nodejs(\d+)\./.exec(process.env.AWS_EXECUTION_ENV || '') || [])[1] || 0);
const CALLBACKS = RUNTIME_MAJOR < 24;
const CALLBACK_WARNING = 'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';
const NODE_JS_EXIT = 'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes';
const CALLBACK_REMOVED = 'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

// One keep-alive HTTP/1.1 connection to the Runtime API (over canaria's Unix socket when
// it gives one). Requests may be pipelined (the
// response to one invocation and the request for the next go out in one write); answers
// come back in order. The socket holds the event loop open only while an answer is
// awaited, so `callbackWaitsForEmptyEventLoop` sees the handler's own work alone.
class RuntimeConnection {
  constructor() {
    this.waiters = [];
    this.buffer = Buffer.alloc(0);
    this.socket = net.connect(SOCKET ? { path: SOCKET } : { host: HOST, port: Number(PORT) });
    this.socket.setNoDelay(true);
    this.socket.unref();
    this.socket.on('data', (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse();
    });
    const lost = (err) => {
      process.stderr.write(`canaria bootstrap: the Runtime API connection closed${err ? ': ' + err.message : ''}\n`);
      process.exit(1);
    };
    this.socket.on('error', lost);
    this.socket.on('close', () => lost());
  }

  request(method, urlPath, body, headers) {
    const data = body === undefined ? null : Buffer.from(body);
    let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n`;
    for (const [name, value] of Object.entries(headers || {})) head += `${name}: ${value}\r\n`;
    head += data ? `Content-Length: ${data.length}\r\n\r\n` : '\r\n'; // canaria reads no Content-Type
    this.socket.write(data ? Buffer.concat([Buffer.from(head, 'latin1'), data]) : head);
    if (this.waiters.length === 0) this.socket.ref();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // A streamed response: the head now, then `write` each piece as one chunk (the callback
  // once the socket takes it, so a fast writer waits for a slow reader), then `end` with
  // the trailers; `end` resolves to the API's answer.
  stream(urlPath, contentType) {
    this.cork();
    this.socket.write(
      `POST ${urlPath} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n` +
        'Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n' +
        `Content-Type: ${contentType}\r\n` +
        'Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n',
      'latin1',
    );
    return {
      write: (data, callback) => {
        if (data.length === 0) return callback();
        this.cork();
        const taken = this.socket.write(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF]));
        if (taken) callback();
        else this.socket.once('drain', () => callback());
      },
      end: (trailers) => {
        this.cork();
        let tail = '0\r\n';
        for (const [name, value] of Object.entries(trailers)) tail += `${name}: ${value}\r\n`;
        this.socket.write(tail + '\r\n', 'latin1');
        if (this.waiters.length === 0) this.socket.ref();
        return new Promise((resolve) => this.waiters.push(resolve));
      },
    };
  }

  // What a streamed response writes within one tick (its head, HTTP metadata and first
  // piece, a handler's synchronous writes, the end) goes out as one write.
  cork() {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  parse() {
    while (this.waiters.length) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] || 0);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length);
      this.buffer = this.buffer.subarray(end + 4 + length);
      const status = Number(lines[0].split(' ')[1]);
      this.waiters.shift()({ status, headers, body });
      if (this.waiters.length === 0) this.socket.unref();
    }
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');

let connection;
function call(method, urlPath, body, headers) {
  if (!connection) connection = new RuntimeConnection();
  return connection.request(method, urlPath, body, headers);
}

// ---- errors ------------------------------------------------------------------------------

function errorShape(error) {
  try {
    if (util.types.isNativeError(error) || (error && typeof error === 'object' && 'message' in error && 'name' in error)) {
      return {
        errorType: String(error.name),
        errorMessage: String(error.message),
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_e) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function runtimeError(type, message, cause) {
  const err = new Error(message);
  err.name = type;
  if (cause && cause.stack) err.stack = `${type}: ${message}\n${String(cause.stack).split('\n').slice(1).join('\n')}`;
  return err;
}

// ---- logging: Lambda's text format, one record per line ----------------------------------

let currentRequestId = undefined;
function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [name, level] of Object.entries(levels)) {
    console[name] = (...args) => {
      const text = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\t${level}\t${text}\n`);
    };
  }
}

// ---- what each answer reports: the handler's time and the runtime's peak memory ----------
//
// Sent with every response and error as canaria's own headers (Canaria-Duration-Ms,
// Canaria-Max-Memory-Kib), so that canaria need not time the answer from outside (which
// would count the runtime's turns waiting for a shared core as handler time) nor read
// /proc/<pid>/status for every invocation. The peak is Linux's ru_maxrss, which survives
// execve: a fresh runtime starts with canaria's own peak (the floor), and only above it is
// the figure the runtime's own; below it, VmHWM in /proc/self/status is. As in canaria's
// Python worker, the last peak stands while the handlers since the last read ran under
// 1 ms in all, the peak is over 64 MB below the limit and the read is under 100 ms old:
// no process grows by 64 MB in 1 ms, so a breach is seen at most that much later.
const MEMORY_LIMIT_KIB = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || 128) * 1024;
const RSS_FLOOR_KIB = process.resourceUsage().maxRSS;
const QUICK_MS = 1;
const QUICK_GROWTH_KIB = 64 * 1024;
const STALE_MS = 100;
let lastPeakKib;
let peakReadAt = -Infinity;
let unreadMs = 0;

function readPeakKib() {
  const maxRss = process.resourceUsage().maxRSS;
  if (maxRss > RSS_FLOOR_KIB) return maxRss;
  try {
    const found = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return found ? Number(found[1]) : undefined;
  } catch (_e) {
    return undefined; // no /proc: canaria reads the process's memory itself
  }
}

function peakKib(durationMs) {
  unreadMs += durationMs;
  const now = performance.now();
  if (lastPeakKib !== undefined && unreadMs < QUICK_MS && now - peakReadAt < STALE_MS
      && lastPeakKib + QUICK_GROWTH_KIB < MEMORY_LIMIT_KIB) {
    return lastPeakKib;
  }
  unreadMs = 0;
  peakReadAt = now;
  lastPeakKib = readPeakKib();
  return lastPeakKib;
}

function report(durationMs) {
  const headers = { 'Canaria-Duration-Ms': durationMs.toFixed(3) };
  const peak = peakKib(durationMs);
  if (peak !== undefined) headers['Canaria-Max-Memory-Kib'] = String(peak);
  return headers;
}

// ---- the handler -------------------------------------------------------------------------

function typeModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
      } catch (_e) {
        return false;
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

let esmHooks = false;
async function importModule(file) {
  if (!esmHooks) {
    esmHooks = true;
    const Module = require('module');
    if (typeof Module.register === 'function' && process.env.CANARIA_SDK_PATH) {
      // ES modules ignore NODE_PATH: let bare imports fall back to the SDK Lambda provides,
      // and imports from /opt find the function's layers.
      const list = (name) => (process.env[name] || '').split(path.delimiter).filter(Boolean);
      Module.register(pathToFileURL(path.join(__dirname, 'esm_resolve.mjs')).href, {
        data: { sdkPaths: list('CANARIA_SDK_PATH'), layerPaths: list('CANARIA_LAYERS') },
      });
    }
  }
  return import(pathToFileURL(file).href);
}

async function loadModule(root, moduleRoot, moduleName) {
  const base = path.resolve(root, moduleRoot, moduleName);
  try {
    if (fs.existsSync(base + '.js')) {
      return typeModule(base + '.js') ? await importModule(base + '.js') : require(base + '.js');
    }
    if (fs.existsSync(base + '.mjs')) return await importModule(base + '.mjs');
    if (fs.existsSync(base + '.cjs')) return require(base + '.cjs');
    const resolved = require.resolve(moduleName, { paths: [path.resolve(root, moduleRoot), root] });
    return require(resolved);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw runtimeError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    }
    if (err && err.code === 'ERR_REQUIRE_ESM') return importModule(require.resolve(base));
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw runtimeError('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    }
    throw err;
  }
}

async function loadHandler(spec) {
  const slash = spec.lastIndexOf('/');
  const moduleRoot = slash >= 0 ? spec.slice(0, slash) : '';
  const rest = slash >= 0 ? spec.slice(slash + 1) : spec;
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) {
    throw runtimeError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  }
  const moduleName = rest.slice(0, dot);
  const handlerPath = rest.slice(dot + 1);
  const mod = await loadModule(TASK_ROOT, moduleRoot, moduleName);
  const lookup = (root) => handlerPath.split('.').reduce((o, p) => (o == null ? undefined : o[p]), root);
  let fn = lookup(mod);
  if (fn === undefined && mod && mod.default && typeof mod.default === 'object') fn = lookup(mod.default);
  if (fn === undefined) {
    throw runtimeError('Runtime.HandlerNotFound', `${rest} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw runtimeError('Runtime.HandlerNotFound', `${rest} is not a function`);
  }
  return fn;
}

// ---- one invocation ----------------------------------------------------------------------

function makeContext(headers, finish) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (CALLBACKS) {
    context.callbackWaitsForEmptyEventLoop = true;
    context.done = (err, result) => finish(err, result, false);
    context.succeed = (result) => finish(null, result, false);
    context.fail = (err) => finish(err == null ? 'handled' : err, undefined, false);
  }
  if (headers['lambda-runtime-client-context']) {
    context.clientContext = JSON.parse(headers['lambda-runtime-client-context']);
  }
  if (headers['lambda-runtime-cognito-identity']) {
    const id = JSON.parse(headers['lambda-runtime-cognito-identity']);
    context.identity = { cognitoIdentityId: id.cognitoIdentityId, cognitoIdentityPoolId: id.cognitoIdentityPoolId };
  }
  return context;
}

let failInvocation = null; // set while a handler runs: uncaught errors end that invocation

function invoke(handler, event, headers) {
  if (streaming.isStreaming(handler)) {
    const id = headers['lambda-runtime-aws-request-id'];
    const stream = new streaming.ResponseStream((contentType) => connection.stream(`${BASE}/invocation/${id}/response`, contentType));
    return new Promise((resolve) => {
      const end = (outcome) => {
        process.removeListener('beforeExit', drained);
        resolve(Object.assign(outcome, { post: stream.post }));
      };
      // the event loop emptied with the handler's promise unsettled: NodeJsExit, as for
      // any other async handler (below)
      function drained() {
        end({ error: runtimeError('Runtime.NodeJsExit', NODE_JS_EXIT) });
      }
      process.on('beforeExit', drained);
      failInvocation = (err) => end({ error: err, fatal: true });
      streaming.runStreaming(handler, event, makeContext(headers, () => {}), stream).then(end);
    });
  }
  return new Promise((resolve) => {
    let finished = false; // the handler has answered (it may still wait for the empty loop)
    let waiting = null; // an answer held until the event loop is empty
    let context;
    const end = (outcome) => {
      process.removeListener('beforeExit', drained);
      resolve(outcome);
    };
    const settle = (err, value) => end(err != null ? { error: err } : { value });
    // The event loop emptied with the invocation still open. As Lambda's runtime: a held
    // answer goes; an async handler whose promise never settled fails with NodeJsExit; any
    // other handler that never answered answers null. The environment lives on.
    function drained() {
      if (waiting) return settle(waiting.err, waiting.value);
      finished = true; // no answer yet (an answer without a wait has removed this listener)
      if (isAsyncFunction(handler)) return settle(runtimeError('Runtime.NodeJsExit', NODE_JS_EXIT));
      return settle(null, undefined);
    }
    process.on('beforeExit', drained);
    const finish = (err, value, waitForEmptyLoop) => {
      if (finished) return;
      finished = true;
      if (waitForEmptyLoop && context.callbackWaitsForEmptyEventLoop !== false) {
        waiting = { err, value };
      } else {
        settle(err, value);
      }
    };
    failInvocation = (err) => end({ error: err, fatal: true });
    context = makeContext(headers, finish);
    const callback = (err, value) => finish(err, value, true);
    let result;
    try {
      result = CALLBACKS ? handler(event, context, callback) : handler(event, context);
    } catch (err) {
      finish(err, undefined, false);
      return;
    }
    if (result && typeof result.then === 'function') {
      result.then(
        (value) => finish(null, value, false),
        (err) => finish(err == null ? new Error('Promise rejected with ' + err) : err, undefined, false),
      );
    } else if (handler.length < 3) {
      // a synchronous handler without a callback: the result is null once the loop is empty
      finish(null, undefined, true);
    }
  });
}

function isAsyncFunction(fn) {
  try {
    return Boolean(fn && fn.constructor && fn.constructor.name === 'AsyncFunction');
  } catch (_e) {
    return false;
  }
}

async function main() {
  traceenv.install();
  patchConsole();
  globalThis.awslambda = streaming.awslambda; // Lambda's runtime global, for streaming handlers
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '');
    if (!CALLBACKS && handler.length >= 3 && !streaming.isStreaming(handler)) {
      throw runtimeError('Runtime.CallbackHandlerDeprecated', CALLBACK_REMOVED);
    }
    if (
      CALLBACKS &&
      RUNTIME_MAJOR >= 18 &&
      handler.length === 3 &&
      !isAsyncFunction(handler) &&
      !streaming.isStreaming(handler) &&
      process.env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined
    ) {
      console.warn(CALLBACK_WARNING); // as Lambda's runtime client warns on nodejs22.x and earlier
    }
  } catch (err) {
    const shape = errorShape(err);
    console.error(`${shape.errorType}: ${shape.errorMessage}`);
    await call('POST', `${BASE}/init/error`, JSON.stringify(shape), {
      'Lambda-Runtime-Function-Error-Type': shape.errorType,
    });
    process.exit(129);
  }
  process.on('uncaughtException', (err) => {
    if (failInvocation) failInvocation(err);
    else process.exit(129);
  });
  process.on('unhandledRejection', (reason) => {
    const err = runtimeError('Runtime.UnhandledPromiseRejection', `${reason && reason.stack ? reason.stack.split('\n')[0] : String(reason)}`, reason);
    if (failInvocation) failInvocation(err);
    else process.exit(128);
  });
  let pending = call('GET', `${BASE}/invocation/next`);
  for (;;) {
    const next = await pending;
    const headers = next.headers;
    const id = headers['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (_e) {
      event = next.body.toString('utf8');
    }
    const started = performance.now();
    const outcome = await invoke(handler, event, headers);
    const reported = report(performance.now() - started);
    failInvocation = null;
    if (outcome.post) {
      // a streamed response: ended with the report, and with the error if there was one
      const trailers = Object.assign({}, reported);
      if (outcome.error !== undefined) {
        const shape = errorShape(outcome.error);
        console.error('Invoke Error', JSON.stringify(shape));
        trailers['Lambda-Runtime-Function-Error-Type'] = shape.errorType;
        trailers['Lambda-Runtime-Function-Error-Body'] = Buffer.from(JSON.stringify(shape)).toString('base64');
        if (outcome.fatal) trailers['Lambda-Runtime-Function-Exit'] = '1';
      }
      const posted = outcome.post.end(trailers);
      if (outcome.fatal) {
        await posted;
        process.exit(129);
      }
      pending = call('GET', `${BASE}/invocation/next`);
      await posted;
      continue;
    }
    let body;
    if (outcome.error === undefined) {
      try {
        body = JSON.stringify(outcome.value === undefined ? null : outcome.value);
      } catch (err) {
        outcome.error = runtimeError('Runtime.MarshalError', `Unable to stringify response body as json: ${err.message}`, err);
      }
    }
    let posted;
    if (outcome.error !== undefined) {
      const shape = errorShape(outcome.error);
      console.error('Invoke Error', JSON.stringify(shape));
      const extra = outcome.fatal ? { 'Lambda-Runtime-Function-Exit': '1' } : {};
      posted = call('POST', `${BASE}/invocation/${id}/error`, JSON.stringify(shape), Object.assign({
        'Lambda-Runtime-Function-Error-Type': shape.errorType,
      }, extra, reported));
      if (outcome.fatal) {
        await posted;
        process.exit(129);
      }
    } else {
      posted = call('POST', `${BASE}/invocation/${id}/response`, body, reported);
    }
    pending = call('GET', `${BASE}/invocation/next`);
    await posted;
  }
}

main().catch((err) => {
  process.stderr.write(`canaria bootstrap: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
