// The Node.js process that runs AppSync resolver code (APPSYNC_JS) for canaria.appsync.js.
//
//   node evaluator.mjs <code dir>
//
// Requests arrive on stdin, one JSON object a line:
//   { id, file, function: "request" | "response", ctx, now, authType, timeoutMs }
// `file` is the resolver's code, written under <code dir>. Each answer is one JSON line on
// stdout, in the order the calls finish:
//   { id, ok: true, value, stash, errors, error, early, skipTo, logs, extensions, headers }
//   { id, ok: false, failure: { kind, message, line, column, function }, logs }
// The code's own output (console.*, process.stdout.write) is captured into `logs`, so it never
// reaches the protocol. A handler runs synchronously, as in AppSync, at most `timeoutMs`.

import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync, writeSync } from 'node:fs';
import { register } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, inspect } from 'node:util';
import vm from 'node:vm';

import * as state from './state.mjs';
import { extensions, runtime, util } from './utils.mjs';

const codeDir = process.argv[2];
if (!codeDir) {
  writeSync(2, 'usage: node evaluator.mjs <code dir>\n');
  process.exit(2);
}
// Node.js imports a module by its real path: the directory is compared by its real path too
const codeDirURL = pathToFileURL(`${realpathSync(codeDir)}/`).href;
register('./hooks.mjs', import.meta.url, {
  data: {
    codeDir: codeDirURL,
    served: {
      '@aws-appsync/utils': new URL('./utils.mjs', import.meta.url).href,
      '@aws-appsync/utils/dynamodb': new URL('./dynamodb.mjs', import.meta.url).href,
    },
  },
});

// ---- the environment the code sees --------------------------------------------------------

Object.assign(globalThis, { util, runtime, extensions });

// `new Date()` and `Date.now()` tell the call's time, like util.time
const RealDate = Date;
globalThis.Date = new Proxy(RealDate, {
  construct: (target, args, newTarget) =>
    Reflect.construct(target, args.length === 0 ? [state.nowMs()] : args, newTarget),
  apply: () => new RealDate(state.nowMs()).toString(),
  get: (target, prop, receiver) =>
    (prop === 'now' ? state.nowMs : Reflect.get(target, prop, receiver)),
});

const protocol = process.stdout.write.bind(process.stdout);
function capture(chunk, encoding, callback) {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  state.log(text.replace(/\n$/, ''));
  const done = typeof encoding === 'function' ? encoding : callback;
  if (typeof done === 'function') process.nextTick(done);
  return true;
}
process.stdout.write = capture;
process.stderr.write = capture;
for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir']) {
  console[level] = (...args) => state.log(format(...args));
}

// ---- running a handler --------------------------------------------------------------------

// The handler runs inside a vm script so that its time limit interrupts an endless loop.
let pending = null;
Object.defineProperty(globalThis, '__canariaInvoke', { value: () => pending() });
const invoke = new vm.Script('__canariaInvoke()', { filename: 'canaria:invoke' });

const KEYS = ['arguments', 'identity', 'source', 'result', 'error', 'prev', 'stash', 'request',
  'info', 'env'];

// AppSync's context object: ctx.args is ctx.arguments itself; the stash starts empty.
function contextOf(raw) {
  const ctx = {};
  for (const key of KEYS) {
    if (raw[key] !== undefined) ctx[key] = raw[key];
  }
  ctx.args = ctx.arguments;
  if (ctx.stash === undefined || ctx.stash === null) ctx.stash = {};
  return ctx;
}

function failure(id, kind, message, where = {}, logs = []) {
  return {
    id,
    ok: false,
    failure: {
      kind,
      message,
      line: where.line ?? null,
      column: where.column ?? null,
      function: where.function ?? null,
    },
    logs,
  };
}

// Where in the resolver's file `err` was thrown: its topmost frame there.
function locate(err, fileURL) {
  const stack = err !== null && typeof err === 'object' && typeof err.stack === 'string'
    ? err.stack : '';
  for (const line of stack.split('\n')) {
    const m = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (m && m[2] === fileURL) {
      const fn = m[1] === undefined ? undefined : m[1].replace(/^(?:Module|Object)\./, '');
      return { line: Number(m[3]), column: Number(m[4]), function: fn };
    }
  }
  const header = new RegExp(`^${fileURL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)$`, 'm')
    .exec(stack);
  return header ? { line: Number(header[1]) } : {};
}

function describe(err) {
  if (err instanceof Error || (err && typeof err === 'object' && 'message' in err)) {
    return `${err.name ?? 'Error'}: ${err.message}`;
  }
  return `a value that is not an Error was thrown: ${inspect(err)}`;
}

const isThenable = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function';

function call(msg, module, fileURL) {
  const fn = module[msg.function];
  if (typeof fn !== 'function') {
    const exported = Object.keys(module).filter((k) => typeof module[k] === 'function');
    return failure(
      msg.id,
      'export',
      `the resolver code exports no ${msg.function} function` +
        (exported.length > 0 ? ` (its functions: ${exported.join(', ')})` : ''),
    );
  }
  const raw = msg.ctx ?? {};
  const ctx = contextOf(raw);
  state.begin({ nowMs: msg.now, info: raw.info, identity: raw.identity, authType: msg.authType });
  let result;
  let thrown = null;
  try {
    pending = () => fn(ctx);
    result = invoke.runInThisContext({ timeout: msg.timeoutMs });
  } catch (err) {
    thrown = err === null || err === undefined ? new Error(String(err)) : err;
  } finally {
    pending = null;
  }
  const record = state.end();
  if (thrown !== null && thrown.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return failure(
      msg.id,
      'timeout',
      `the ${msg.function} handler did not finish within ${msg.timeoutMs / 1000} s`,
      {},
      record.logs,
    );
  }
  if (record.error === null && record.early === null) {
    if (thrown !== null) {
      return failure(msg.id, 'thrown', describe(thrown), locate(thrown, fileURL), record.logs);
    }
    if (isThenable(result)) {
      return failure(
        msg.id,
        'async',
        `the ${msg.function} handler returned a Promise: AppSync runs handlers synchronously ` +
          '(APPSYNC_JS has no async functions, await or Promises)',
        {},
        record.logs,
      );
    }
  }
  const early = record.error === null && record.early !== null;
  let value = null;
  if (early) value = record.early.value;
  else if (record.error === null) value = result;
  return {
    id: msg.id,
    ok: true,
    value: value === undefined ? null : value,
    stash: ctx.stash,
    errors: record.errors,
    error: record.error,
    early,
    skipTo: early ? record.early.skipTo : null,
    logs: record.logs,
    extensions: record.extensions,
    headers: record.headers,
  };
}

// ---- loading the code ---------------------------------------------------------------------

function lineOf(source, index) {
  return source.slice(0, index).split('\n').length;
}

// The first import of the file that is not one of the served modules.
function refusedImportLine(file) {
  const source = readFileSync(file, 'utf8');
  const pattern = /\b(?:from|import)\s*\(?\s*(['"])([^'"]+)\1/g;
  let m;
  while ((m = pattern.exec(source)) !== null) {
    if (m[2] !== '@aws-appsync/utils' && m[2] !== '@aws-appsync/utils/dynamodb') {
      return { line: lineOf(source, m.index) };
    }
  }
  return {};
}

// `node --check` names the line and column of a syntax error; import() does not.
function syntaxErrorPlace(file) {
  const done = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10000 });
  const lines = (done.stderr ?? '').split('\n');
  const m = /:(\d+)$/.exec(lines[0] ?? '');
  if (!m) return {};
  const caret = (lines[2] ?? '').indexOf('^');
  return { line: Number(m[1]), column: caret >= 0 ? caret + 1 : null };
}

function importFailure(id, err, file, fileURL) {
  if (err?.code === 'CANARIA_IMPORT_REFUSED') {
    return failure(id, 'import', err.message, refusedImportLine(file));
  }
  const where = locate(err, fileURL);
  const syntax = err instanceof SyntaxError || err?.name === 'SyntaxError';
  if (syntax && /requested module/.test(err.message)) {
    return failure(id, 'import', err.message, where);
  }
  if (syntax && where.column === undefined) {
    // no frame in the file: it was not running, it does not parse
    const place = where.line !== undefined ? where : syntaxErrorPlace(file);
    return failure(id, 'syntax', describe(err), place);
  }
  const frame = where.function ?? '(module top level)';
  return failure(id, 'thrown', describe(err), { ...where, function: frame });
}

const loaded = new Map(); // file URL -> the module's namespace

async function handle(msg) {
  const file = String(msg.file);
  const fileURL = pathToFileURL(file).href;
  if (!fileURL.startsWith(codeDirURL)) {
    return failure(msg.id, 'internal', `${file} is not under ${fileURLToPath(codeDirURL)}`);
  }
  // a module loaded once is kept: import() of it again would still ask the resolve hook,
  // which runs on the loader's own thread (a round trip of a millisecond)
  let module = loaded.get(fileURL);
  if (module !== undefined) return call(msg, module, fileURL);
  try {
    module = await import(fileURL);
    loaded.set(fileURL, module);
  } catch (err) {
    // what its top-level code printed before failing
    return { ...importFailure(msg.id, err, file, fileURL), logs: state.takeLoose() };
  }
  return call(msg, module, fileURL);
}

function send(reply) {
  let line;
  try {
    line = JSON.stringify(reply);
  } catch (err) {
    line = JSON.stringify(
      failure(reply.id, 'result', `the handler's result cannot be sent as JSON: ${err.message}`,
        {}, reply.logs),
    );
  }
  protocol(`${line}\n`);
}

let inFlight = 0;
let closed = false;
const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => {
  if (line.trim() === '') return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    writeSync(2, `canaria evaluator: not a JSON request: ${line.slice(0, 200)}\n`);
    return;
  }
  inFlight += 1;
  handle(msg)
    .then(send, (err) => {
      send(failure(msg.id, 'internal', `canaria's evaluator failed: ${err?.stack ?? err}`));
    })
    .finally(() => {
      inFlight -= 1;
      if (closed && inFlight === 0) process.exit(0);
    });
});
// stdin closed: canaria is done with this process; it ends once the calls under way answered
input.on('close', () => {
  closed = true;
  if (inFlight === 0) process.exit(0);
});
