// canaria's @aws-appsync/utils/dynamodb: the DynamoDB built-in module of AWS AppSync ("Built-in
// modules", AWS AppSync Developer Guide). Each function turns plain JavaScript values into the
// request object AppSync's DynamoDB data source takes ("JavaScript resolver function
// reference for DynamoDB"): typed keys and items, and condition, filter, key condition,
// projection and update expressions with their names and values. AppSync does not document
// the placeholders its module picks; canaria's read like the attributes (#title, :title) and
// never collide within one request.

import { isPlainObject, isTyped, toMapValues, typed } from './attributes.mjs';
import { Aliases, keyCondition, projection as projectionOf, renderFilter } from './expressions.mjs';

// ---- pieces -------------------------------------------------------------------------------

function payloadOf(fn, payload) {
  if (!isPlainObject(payload)) throw new TypeError(`${fn}: expected an object argument`);
  return payload;
}

function keyOf(fn, key) {
  if (!isPlainObject(key) || Object.keys(key).length === 0) {
    throw new TypeError(`${fn}: key must name the item's key attributes, e.g. { id: ctx.args.id }`);
  }
  return toMapValues(key);
}

function itemOf(fn, item) {
  if (!isPlainObject(item)) throw new TypeError(`${fn}: item must be an object of attributes`);
  return toMapValues(item);
}

function tablesOf(fn, tables) {
  if (!isPlainObject(tables) || Object.keys(tables).length === 0) {
    throw new TypeError(`${fn}: tables must map at least one table name to its entries`);
  }
  return Object.entries(tables);
}

// A condition or filter object as { expression, expressionNames?, expressionValues? }, or
// undefined when there is none (or it is empty).
function expressionOf(fn, what, filter) {
  if (filter === undefined || filter === null) return undefined;
  const rendered = renderFilter(filter);
  if (rendered === null) {
    throw new TypeError(
      `${fn}: ${what} is not a filter object: give { attribute: { operator: value } } with ` +
        'eq, ne, le, lt, ge, gt, contains, notContains, beginsWith, between, in, ' +
        'attributeExists, attributeType or size, combined with and, or, not',
    );
  }
  return rendered.expression === '' ? undefined : compact(rendered);
}

function compact(expression) {
  const out = { expression: expression.expression };
  if (Object.keys(expression.expressionNames ?? {}).length > 0) {
    out.expressionNames = expression.expressionNames;
  }
  if (Object.keys(expression.expressionValues ?? {}).length > 0) {
    out.expressionValues = expression.expressionValues;
  }
  return out;
}

function projectionFor(paths, taken) {
  if (paths === undefined || paths === null) return undefined;
  return compact(projectionOf(paths, new Aliases(taken)));
}

// The request without the fields that were not given.
function request(fields) {
  const out = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) out[name] = value;
  }
  return out;
}

function versioning(payload) {
  return {
    customPartitionKey: payload.customPartitionKey,
    populateIndexFields: payload.populateIndexFields,
    _version: payload._version,
  };
}

// ---- update expressions -------------------------------------------------------------------

const OPERATION = Symbol('canaria.appsync.updateOperation');

function operation(type, fields) {
  const op = { _type: type, ...fields };
  Object.defineProperty(op, OPERATION, { value: true, enumerable: false });
  return op;
}

const isOperation = (v) => v !== null && typeof v === 'object' && v[OPERATION] === true;

export const operations = {
  // sets the attribute to the value (a new attribute, or a whole new value)
  add: (value) => operation('add', { value }),
  remove: () => operation('remove', {}),
  // sets the whole attribute to the value, where a plain object would only change its keys
  replace: (value) => operation('replace', { value }),
  increment: (by = 1) => operation('increment', { by }),
  decrement: (by = 1) => operation('decrement', { by }),
  append: (items) => operation('append', { items }),
  prepend: (items) => operation('prepend', { items }),
  updateListItem: (value, index) => operation('updateListItem', { value, index }),
};

function applyOperation(op, target, hint, sections, aliases) {
  switch (op._type) {
    case 'add':
    case 'replace':
      sections.SET.push(`${target} = ${aliases.value(hint, op.value)}`);
      break;
    case 'remove':
      sections.REMOVE.push(target);
      break;
    case 'increment':
    case 'decrement': {
      const by = op._type === 'increment' ? op.by : -op.by;
      const zero = aliases.value(`${hint}_start`, 0);
      const step = aliases.value(hint, by);
      sections.SET.push(`${target} = if_not_exists(${target}, ${zero}) + ${step}`);
      break;
    }
    case 'append':
      sections.SET.push(`${target} = list_append(${target}, ${aliases.value(hint, op.items)})`);
      break;
    case 'prepend':
      sections.SET.push(`${target} = list_append(${aliases.value(hint, op.items)}, ${target})`);
      break;
    case 'updateListItem':
      if (!Number.isInteger(op.index) || op.index < 0) {
        throw new TypeError(`operations.updateListItem: the index must be a list position`);
      }
      sections.SET.push(
        `${target}[${op.index}] = ${aliases.value(`${hint}_${op.index}`, op.value)}`,
      );
      break;
    default:
      throw new TypeError(`unknown update operation ${op._type}`);
  }
}

// A plain object changes only the keys it names, nested objects included; an operation
// (operations.add, ...) or any other value sets the attribute.
function walk(update, path, sections, aliases) {
  for (const [attr, value] of Object.entries(update)) {
    if (value === undefined) continue;
    const steps = [...path, attr];
    const target = steps.map((step) => aliases.name(step)).join('.');
    const hint = steps.join('_');
    if (isOperation(value)) {
      applyOperation(value, target, hint, sections, aliases);
    } else if (Array.isArray(value) && value.length > 0 && value.every(isOperation)) {
      for (const op of value) applyOperation(op, target, hint, sections, aliases);
    } else if (isPlainObject(value) && !isTyped(value)) {
      walk(value, steps, sections, aliases);
    } else {
      sections.SET.push(`${target} = ${aliases.value(hint, value)}`);
    }
  }
}

function updateOf(fn, update, condition) {
  if (!isPlainObject(update)) {
    throw new TypeError(`${fn}: update must be an object of the attributes to change`);
  }
  const aliases = new Aliases(condition?.expressionNames, condition?.expressionValues);
  const sections = { SET: [], REMOVE: [] };
  walk(update, [], sections, aliases);
  const expression = Object.entries(sections)
    .filter(([, actions]) => actions.length > 0)
    .map(([verb, actions]) => `${verb} ${actions.join(', ')}`)
    .join(' ');
  if (expression === '') throw new TypeError(`${fn}: update changes nothing`);
  return compact({ expression, expressionNames: aliases.names, expressionValues: aliases.values });
}

// ---- the module's functions ---------------------------------------------------------------

export function get(payload) {
  const p = payloadOf('get', payload);
  return request({
    operation: 'GetItem',
    key: keyOf('get', p.key),
    consistentRead: p.consistentRead,
    projection: projectionFor(p.projection),
  });
}

export function put(payload) {
  const p = payloadOf('put', payload);
  return request({
    operation: 'PutItem',
    key: keyOf('put', p.key),
    attributeValues: itemOf('put', p.item ?? {}),
    condition: expressionOf('put', 'condition', p.condition),
    ...versioning(p),
  });
}

export function remove(payload) {
  const p = payloadOf('remove', payload);
  return request({
    operation: 'DeleteItem',
    key: keyOf('remove', p.key),
    condition: expressionOf('remove', 'condition', p.condition),
    ...versioning(p),
  });
}

export function update(payload) {
  const p = payloadOf('update', payload);
  const condition = expressionOf('update', 'condition', p.condition);
  return request({
    operation: 'UpdateItem',
    key: keyOf('update', p.key),
    update: updateOf('update', p.update, condition),
    condition,
    ...versioning(p),
  });
}

function reading(fn, p) {
  const filter = expressionOf(fn, 'filter', p.filter);
  return {
    filter,
    fields: {
      index: p.index,
      nextToken: p.nextToken,
      limit: p.limit,
      consistentRead: p.consistentRead,
      select: p.select,
    },
  };
}

export function query(payload) {
  const p = payloadOf('query', payload);
  const { filter, fields } = reading('query', p);
  const key = keyCondition(p.query, new Aliases(filter?.expressionNames, filter?.expressionValues));
  return request({
    operation: 'Query',
    query: compact(key),
    ...fields,
    scanIndexForward: p.scanIndexForward,
    filter,
    projection: projectionFor(p.projection, { ...filter?.expressionNames, ...key.expressionNames }),
  });
}

export function scan(payload) {
  const p = payloadOf('scan', payload ?? {});
  const { filter, fields } = reading('scan', p);
  return request({
    operation: 'Scan',
    ...fields,
    totalSegments: p.totalSegments,
    segment: p.segment,
    filter,
    projection: projectionFor(p.projection, filter?.expressionNames),
  });
}

export function sync(payload) {
  const p = payloadOf('sync', payload ?? {});
  return request({
    operation: 'Sync',
    basePartitionKey: p.basePartitionKey,
    deltaIndexName: p.deltaIndexName,
    limit: p.limit,
    nextToken: p.nextToken,
    lastSync: p.lastSync,
    filter: expressionOf('sync', 'filter', p.filter),
  });
}

export function batchGet(payload) {
  const p = payloadOf('batchGet', payload);
  const tables = {};
  for (const [table, spec] of tablesOf('batchGet', p.tables)) {
    if (!isPlainObject(spec) || !Array.isArray(spec.keys) || spec.keys.length === 0) {
      throw new TypeError(`batchGet: tables.${table} needs keys: [{ id: ... }, ...]`);
    }
    tables[table] = request({
      keys: spec.keys.map((key) => keyOf(`batchGet: tables.${table}`, key)),
      consistentRead: spec.consistentRead,
      projection: projectionFor(spec.projection),
    });
  }
  return { operation: 'BatchGetItem', tables };
}

function listsPerTable(fn, payload, convert) {
  const p = payloadOf(fn, payload);
  const tables = {};
  for (const [table, entries] of tablesOf(fn, p.tables)) {
    if (!Array.isArray(entries)) throw new TypeError(`${fn}: tables.${table} must be a list`);
    tables[table] = entries.map((entry) => convert(`${fn}: tables.${table}`, entry));
  }
  return tables;
}

export function batchPut(payload) {
  return { operation: 'BatchPutItem', tables: listsPerTable('batchPut', payload, itemOf) };
}

export function batchDelete(payload) {
  return { operation: 'BatchDeleteItem', tables: listsPerTable('batchDelete', payload, keyOf) };
}

function itemsOf(fn, payload) {
  const p = payloadOf(fn, payload);
  if (!Array.isArray(p.items) || p.items.length === 0) {
    throw new TypeError(`${fn}: items must be a non-empty list`);
  }
  return p.items;
}

function tableOf(fn, table) {
  if (typeof table !== 'string' || table === '') throw new TypeError(`${fn}: table is required`);
  return table;
}

export function transactGet(payload) {
  const transactItems = itemsOf('transactGet', payload).map((item, i) => {
    const where = `transactGet: items[${i}]`;
    if (!isPlainObject(item)) throw new TypeError(`${where} must be { table, key, projection? }`);
    return request({
      table: tableOf(where, item.table),
      key: keyOf(where, item.key),
      projection: projectionFor(item.projection),
    });
  });
  return { operation: 'TransactGetItems', transactItems };
}

const WRITES = {
  putItem: (where, w) => ({
    operation: 'PutItem',
    attributeValues: itemOf(where, w.item ?? {}),
    condition: expressionOf(where, 'condition', w.condition),
  }),
  updateItem: (where, w) => {
    const condition = expressionOf(where, 'condition', w.condition);
    return { operation: 'UpdateItem', update: updateOf(where, w.update, condition), condition };
  },
  deleteItem: (where, w) => ({
    operation: 'DeleteItem',
    condition: expressionOf(where, 'condition', w.condition),
  }),
  conditionCheck: (where, w) => {
    const condition = expressionOf(where, 'condition', w.condition);
    if (condition === undefined) throw new TypeError(`${where}: conditionCheck needs a condition`);
    return { operation: 'ConditionCheck', condition };
  },
};

export function transactWrite(payload) {
  const transactItems = itemsOf('transactWrite', payload).map((item, i) => {
    const kinds = isPlainObject(item) ? Object.keys(item).filter((k) => k in WRITES) : [];
    if (kinds.length !== 1 || !isPlainObject(item[kinds[0]])) {
      throw new TypeError(
        `transactWrite: items[${i}] must be one of { putItem }, { updateItem }, ` +
          '{ deleteItem }, { conditionCheck }',
      );
    }
    const where = `transactWrite: items[${i}].${kinds[0]}`;
    const write = item[kinds[0]];
    const { operation: op, ...rest } = WRITES[kinds[0]](where, write);
    return request({
      table: tableOf(where, write.table),
      operation: op,
      key: keyOf(where, write.key),
      ...rest,
    });
  });
  return { operation: 'TransactWriteItems', transactItems };
}

// ---- sets ---------------------------------------------------------------------------------

function setOf(name, type, list, check, convert) {
  if (!Array.isArray(list) || !list.every(check)) {
    throw new TypeError(`${name}: expected a list of ${type === 'NS' ? 'numbers' : 'strings'}`);
  }
  return typed({ [type]: list.map(convert) });
}

export const toStringSet = (list) =>
  setOf('toStringSet', 'SS', list, (v) => typeof v === 'string', String);
export const toNumberSet = (list) =>
  setOf('toNumberSet', 'NS', list, (v) => typeof v === 'number', String);
export const toBinarySet = (list) =>
  setOf('toBinarySet', 'BS', list, (v) => typeof v === 'string', String);
