// What one resolver call leaves behind besides its return value: the errors it appended, the
// util.error it raised, its runtime.earlyReturn, its console output, its extensions calls and
// response headers. APPSYNC_JS handlers are synchronous, so exactly one call runs at a time:
// the evaluator opens the call's record before invoking the handler and closes it right after,
// and the utilities write to whichever record is open.

const realNow = Date.now;

function emptyRecord(options) {
  return {
    nowMs: options.nowMs ?? null,
    info: options.info ?? null,
    identity: options.identity ?? null,
    authType: options.authType ?? null,
    errors: [],
    error: null,
    early: null,
    logs: [],
    extensions: [],
    headers: {},
  };
}

let open = null;
// output written while no call is open (module top-level code run by the import that a call
// triggered): handed to the next call that closes
let loose = [];

export function begin(options) {
  open = emptyRecord(options);
  return open;
}

export function end() {
  const record = open;
  open = null;
  if (record !== null && loose.length > 0) {
    record.logs = [...loose, ...record.logs];
    loose = [];
  }
  return record;
}

// What code printed while no call was open, taken.
export function takeLoose() {
  const lines = loose;
  loose = [];
  return lines;
}

// The open call's record; outside a call (module top-level code) a record nobody reads.
export function current() {
  return open ?? emptyRecord({});
}

export function log(line) {
  if (open !== null) open.logs.push(line);
  else loose.push(line);
}

// The time the call runs at: the caller's clock when it gave one (canaria compresses time),
// else the machine's.
export function nowMs() {
  return open !== null && open.nowMs !== null ? open.nowMs : realNow();
}

export { realNow };

// Thrown by util.error and util.unauthorized so that nothing after them runs.
export class ErrorSignal extends Error {
  constructor(record) {
    super(record.message);
    this.name = 'AppSyncError';
    this.record = record;
  }
}

// Thrown by runtime.earlyReturn so that nothing after it runs.
export class EarlyReturnSignal extends Error {
  constructor() {
    super('runtime.earlyReturn');
    this.name = 'EarlyReturn';
  }
}
