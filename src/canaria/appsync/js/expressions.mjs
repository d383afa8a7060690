// DynamoDB expressions from AppSync's filter objects ({ title: { contains: 'x' }, or: [...] }).
//
// renderFilter is util.transform.toDynamoDBFilterExpression (and ...ConditionExpression, which
// renders the same): its text, its placeholder names (":and_0_title_contains") and its
// answer of null for a filter it cannot render follow what AppSync answers for the same
// input. The DynamoDB built-in module builds its conditions and filters with it too, and its
// key conditions, projections and update expressions with the Aliases below.

import { isPlainObject, toDynamoDB } from './attributes.mjs';

const COMPARISONS = { eq: '=', ne: '<>', le: '<=', lt: '<', ge: '>=', gt: '>' };
const FUNCTIONS = { contains: 'contains', notContains: 'NOT contains', beginsWith: 'begins_with' };
export const ATTRIBUTE_TYPES = {
  _null: 'NULL',
  string: 'S',
  stringSet: 'SS',
  number: 'N',
  numberSet: 'NS',
  binary: 'B',
  binarySet: 'BS',
  boolean: 'BOOL',
  list: 'L',
  map: 'M',
};

class Unrenderable extends Error {}

// { expression, expressionNames, expressionValues }, or null when `filter` is not a filter
// object AppSync can render (an unknown operator, a field holding a plain value, ...).
export function renderFilter(filter) {
  if (!isPlainObject(filter)) return null;
  const out = { names: {}, values: {} };
  try {
    const expression = members(filter, '', out);
    return { expression, expressionNames: out.names, expressionValues: out.values };
  } catch (err) {
    if (err instanceof Unrenderable) return null;
    throw err;
  }
}

// The fields and groups of one filter object, joined with AND and not parenthesised.
function members(filter, prefix, out) {
  const parts = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === 'and' || key === 'or') parts.push(junction(key, value, prefix, out));
    else if (key === 'not') parts.push(negation(value, prefix, out));
    else parts.push(field(key, value, prefix, out));
  }
  return parts.join(' AND ');
}

function junction(kind, list, prefix, out) {
  if (!Array.isArray(list)) throw new Unrenderable();
  const rendered = list.map((member, i) => {
    if (!isPlainObject(member)) throw new Unrenderable();
    return members(member, `${prefix}${kind}_${i}_`, out);
  });
  if (rendered.length === 0) return '';
  if (rendered.length === 1) return rendered[0];
  return `(${rendered.join(kind === 'and' ? ' AND ' : ' OR ')})`;
}

function negation(filter, prefix, out) {
  if (!isPlainObject(filter)) throw new Unrenderable();
  return `(NOT ${members(filter, `${prefix}not_`, out)})`;
}

function field(name, operators, prefix, out) {
  if (!isPlainObject(operators)) throw new Unrenderable();
  out.names[`#${name}`] = name;
  return joined(operations(`#${name}`, operators, `${prefix}${name}`, out));
}

function joined(parts) {
  if (parts.length === 0) return '';
  if (parts.length === 1) return parts[0];
  return `(${parts.join(' AND ')})`;
}

function operations(path, operators, stem, out) {
  const value = (suffix, v) => {
    const placeholder = `:${stem}_${suffix}`;
    out.values[placeholder] = toDynamoDB(v);
    return placeholder;
  };
  return Object.entries(operators).map(([op, operand]) => {
    if (op in COMPARISONS) return `(${path} ${COMPARISONS[op]} ${value(op, operand)})`;
    if (op in FUNCTIONS) return `(${FUNCTIONS[op]}(${path},${value(op, operand)}))`;
    switch (op) {
      case 'between':
        if (!Array.isArray(operand) || operand.length < 2) throw new Unrenderable();
        return `(${path} BETWEEN ${value('between_start', operand[0])} AND ` +
          `${value('between_end', operand[1])})`;
      case 'in':
        if (!Array.isArray(operand)) throw new Unrenderable();
        if (operand.length === 0) return '(null)';
        return `(${path} IN (${operand.map((v, i) => value(`in_${i}`, v)).join(', ')}))`;
      case 'attributeExists':
        if (typeof operand !== 'boolean') throw new Unrenderable();
        return `(${operand ? 'attribute_exists' : 'attribute_not_exists'}(${path}))`;
      case 'attributeType': {
        if (!Object.hasOwn(ATTRIBUTE_TYPES, operand)) throw new Unrenderable();
        const placeholder = `:${stem}_attributeType`;
        out.values[placeholder] = { S: ATTRIBUTE_TYPES[operand] };
        return `(attribute_type(${path},${placeholder}))`;
      }
      case 'size': {
        if (!isPlainObject(operand)) throw new Unrenderable();
        const sized = path.startsWith('size(') ? path : `size(${path})`;
        return joined(operations(sized, operand, `${stem}_size`, out));
      }
      default:
        throw new Unrenderable();
    }
  });
}

// Placeholders for one request's expressions: a name is `#<attribute>` (`#attr` when the
// attribute's name cannot be a placeholder's), a value `:<hint>`, numbered when taken. The
// names and values of the request's other expressions (its condition, its filter) are passed
// in: the DynamoDB data source sends them all in one call.
export class Aliases {
  constructor(names = {}, values = {}) {
    this.names = {};
    this.values = {};
    this.takenNames = { ...names };
    this.takenValues = new Set(Object.keys(values));
  }

  name(attribute) {
    for (const [alias, attr] of Object.entries(this.takenNames)) {
      if (attr === attribute) {
        this.names[alias] = attribute;
        return alias;
      }
    }
    const safe = /^[A-Za-z0-9_]+$/.test(attribute) ? attribute : 'attr';
    let alias = `#${safe}`;
    for (let n = 1; alias in this.takenNames; n += 1) alias = `#${safe}_${n}`;
    this.takenNames[alias] = attribute;
    this.names[alias] = attribute;
    return alias;
  }

  value(hint, v, { raw = false } = {}) {
    const safe = hint.replace(/[^A-Za-z0-9_]/g, '_') || 'value';
    let placeholder = `:${safe}`;
    for (let n = 1; this.takenValues.has(placeholder); n += 1) placeholder = `:${safe}_${n}`;
    this.takenValues.add(placeholder);
    this.values[placeholder] = raw ? v : toDynamoDB(v);
    return placeholder;
  }

  // `a.b[2].c` as `#a.#b[2].#c`
  path(text) {
    return parsePath(text)
      .map((step) => (typeof step === 'number' ? `[${step}]` : `.${this.name(step)}`))
      .join('')
      .slice(1);
  }
}

// A document path ("nested.object[1]") as its steps: names and list indexes.
export function parsePath(text) {
  const steps = [];
  const pattern = /([^.[\]]+)|\[(\d+)\]|(\.)/g;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    if (match[1] !== undefined) steps.push(match[1]);
    else if (match[2] !== undefined) steps.push(Number(match[2]));
  }
  if (steps.length === 0 || typeof steps[0] === 'number') {
    throw new TypeError(`${JSON.stringify(text)} is not an attribute path`);
  }
  return steps;
}

// ProjectionExpression of a list of attribute paths: { expression, expressionNames }.
export function projection(paths, aliases = new Aliases()) {
  if (!Array.isArray(paths)) throw new TypeError('projection must be a list of attribute names');
  const expression = paths.map((p) => aliases.path(String(p))).join(', ');
  return { expression, expressionNames: aliases.names };
}

const KEY_OPERATORS = { eq: '=', le: '<=', lt: '<', ge: '>=', gt: '>' };

// A Query's key condition from { id: { eq: 1 }, sk: { beginsWith: 'a' } }: an equality on the
// partition key and at most one comparison, between or beginsWith on the sort key.
export function keyCondition(query, aliases) {
  if (!isPlainObject(query) || Object.keys(query).length === 0) {
    throw new TypeError('query needs a key condition, e.g. { id: { eq: ctx.args.id } }');
  }
  const parts = [];
  for (const [attr, condition] of Object.entries(query)) {
    const entries = isPlainObject(condition) ? Object.entries(condition) : [];
    if (entries.length !== 1) {
      throw new TypeError(
        `query.${attr}: give exactly one of eq, le, lt, ge, gt, between, beginsWith`,
      );
    }
    const [[op, operand]] = entries;
    const name = aliases.name(attr);
    if (op in KEY_OPERATORS) {
      parts.push(`${name} ${KEY_OPERATORS[op]} ${aliases.value(`${attr}_${op}`, operand)}`);
    } else if (op === 'between' && Array.isArray(operand) && operand.length === 2) {
      const start = aliases.value(`${attr}_between_start`, operand[0]);
      const end = aliases.value(`${attr}_between_end`, operand[1]);
      parts.push(`${name} BETWEEN ${start} AND ${end}`);
    } else if (op === 'beginsWith') {
      parts.push(`begins_with(${name}, ${aliases.value(`${attr}_beginsWith`, operand)})`);
    } else {
      throw new TypeError(`query.${attr}: ${op} is not a key condition operator`);
    }
  }
  return {
    expression: parts.join(' AND '),
    expressionNames: aliases.names,
    expressionValues: aliases.values,
  };
}
