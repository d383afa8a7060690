// DynamoDB attribute values as AppSync writes them ({ "S": "foo" }, { "N": 12345 }, ...): the
// conversions of util.dynamodb ("DynamoDB helpers in util.dynamodb", AWS AppSync Developer
// Guide) and of the DynamoDB built-in module. Numbers stay JSON numbers, as AppSync's own
// examples show them; the DynamoDB data source accepts both forms.

// A value already in attribute-value form (the result of util.dynamodb.toStringSet, ...):
// converting it again leaves it as it is, so a set put into an item stays a set.
const TYPED = Symbol('canaria.appsync.attributeValue');

export function typed(value) {
  Object.defineProperty(value, TYPED, { value: true, enumerable: false });
  return value;
}

export function isTyped(value) {
  return value !== null && typeof value === 'object' && value[TYPED] === true;
}

export function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// General conversion: strings S, numbers N, booleans BOOL, null NULL, arrays L, objects M
// (lists, never sets, as AppSync documents).
export function toDynamoDB(value) {
  if (isTyped(value)) return value;
  if (value === null || value === undefined) return typed({ NULL: null });
  switch (typeof value) {
    case 'string':
      return typed({ S: value });
    case 'number':
      return typed({ N: value });
    case 'boolean':
      return typed({ BOOL: value });
    case 'bigint':
      return typed({ N: value.toString() });
    default:
      break;
  }
  if (Array.isArray(value)) return typed({ L: value.map(toDynamoDB) });
  if (value instanceof Date) return typed({ S: value.toISOString() });
  if (typeof value === 'object') return typed({ M: toMapValues(value) });
  throw new TypeError(`util.dynamodb.toDynamoDB: a ${typeof value} has no DynamoDB form`);
}

export function toMapValues(map) {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return null;
  const out = {};
  for (const [key, value] of Object.entries(map)) {
    if (value !== undefined) out[key] = toDynamoDB(value);
  }
  return out;
}

function absent(value) {
  return value === null || value === undefined;
}

function listOf(name, list, check) {
  if (absent(list)) return null;
  if (!Array.isArray(list)) throw new TypeError(`util.dynamodb.${name}: expected a list`);
  for (const item of list) {
    if (!check(item)) {
      throw new TypeError(`util.dynamodb.${name}: ${JSON.stringify(item)} does not belong here`);
    }
  }
  return [...list];
}

const isString = (v) => typeof v === 'string';
const isNumber = (v) => typeof v === 'number';

export const dynamodbUtil = {
  toDynamoDB,
  toMapValues,
  toString: (value) => (absent(value) ? null : typed({ S: String(value) })),
  toStringSet: (list) => {
    const items = listOf('toStringSet', list, isString);
    return items === null ? null : typed({ SS: items });
  },
  toNumber: (value) => (absent(value) ? null : typed({ N: value })),
  toNumberSet: (list) => {
    const items = listOf('toNumberSet', list, isNumber);
    return items === null ? null : typed({ NS: items });
  },
  toBinary: (value) => (absent(value) ? null : typed({ B: value })),
  toBinarySet: (list) => {
    const items = listOf('toBinarySet', list, isString);
    return items === null ? null : typed({ BS: items });
  },
  toBoolean: (value) => (absent(value) ? null : typed({ BOOL: value })),
  toNull: () => typed({ NULL: null }),
  toList: (list) => (Array.isArray(list) ? toDynamoDB(list) : null),
  toMap: (map) => (isPlainObject(map) ? typed({ M: toMapValues(map) }) : null),
  toS3Object: (key, bucket, region, version) => {
    const s3 = { key, bucket, region };
    if (version !== undefined && version !== null) s3.version = version;
    return typed({ S: JSON.stringify({ s3 }) });
  },
  fromS3ObjectJson: (value) => {
    const text = value !== null && typeof value === 'object' ? value.S : value;
    if (typeof text !== 'string') return null;
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? parsed.s3 ?? null : null;
  },
};
