// util.time ("Time helpers in util.time", AWS AppSync Developer Guide). Formats are the
// patterns of Java's DateTimeFormatter, which AppSync uses: the letters below, 'quoted text'
// and [optional sections]. A time zone is an IANA name ("Australia/Perth"), an offset
// ("+08:00", "-07:00:30") or UTC. The clock is the call's: canaria may run it faster.

import { nowMs } from './state.mjs';

const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

// ---- time zones ---------------------------------------------------------------------------

const OFFSET = /^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/;
const formatters = new Map();

function zoneFormatter(zone) {
  let fmt = formatters.get(zone);
  if (fmt === undefined) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RangeError(`util.time: unknown time zone ${JSON.stringify(zone)}`);
    }
    formatters.set(zone, fmt);
  }
  return fmt;
}

// A zone: { id, offsetSeconds(epochMs) }.
export function zoneOf(text) {
  if (text === undefined || text === null || ['UTC', 'Z', 'GMT', 'UT'].includes(text)) {
    return { id: 'UTC', fixed: true, offsetSeconds: () => 0 };
  }
  const m = OFFSET.exec(String(text));
  if (m) {
    const seconds = (Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) *
      (m[1] === '-' ? -1 : 1);
    return { id: offsetText(seconds, true, true), fixed: true, offsetSeconds: () => seconds };
  }
  const fmt = zoneFormatter(String(text));
  return {
    id: String(text),
    fixed: false,
    offsetSeconds(epochMs) {
      const parts = {};
      for (const p of fmt.formatToParts(new Date(epochMs))) parts[p.type] = Number(p.value);
      const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute,
        parts.second);
      return Math.round((wall - Math.floor(epochMs / 1000) * 1000) / 1000);
    },
  };
}

function pad(n, width) {
  const s = String(Math.abs(n));
  return (n < 0 ? '-' : '') + s.padStart(width, '0');
}

// +08:00 (colon) or +0800; seconds only when not zero, or always with `withSeconds`
function offsetText(seconds, colon, withSeconds = false) {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const sep = colon ? ':' : '';
  let text = `${sign}${pad(Math.floor(abs / 3600), 2)}${sep}${pad(Math.floor(abs / 60) % 60, 2)}`;
  if (withSeconds && abs % 60 !== 0) text += `${sep}${pad(abs % 60, 2)}`;
  return text;
}

// ---- patterns -----------------------------------------------------------------------------

// [{ letter, count } | { text } | { optional: [...] }]
function tokenize(pattern) {
  const root = [];
  const stack = [root];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    const top = stack[stack.length - 1];
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j += 1;
      top.push({ letter: c, count: j - i });
      i = j;
    } else if (c === "'") {
      let j = i + 1;
      let text = '';
      while (j < pattern.length) {
        if (pattern[j] === "'" && pattern[j + 1] === "'") {
          text += "'";
          j += 2;
        } else if (pattern[j] === "'") {
          break;
        } else {
          text += pattern[j];
          j += 1;
        }
      }
      top.push({ text: text === '' ? "'" : text });
      i = j + 1;
    } else if (c === '[') {
      const section = [];
      top.push({ optional: section });
      stack.push(section);
      i += 1;
    } else if (c === ']' && stack.length > 1) {
      stack.pop();
      i += 1;
    } else {
      top.push({ text: c });
      i += 1;
    }
  }
  return root;
}

function unsupported(letter, count) {
  return new RangeError(
    `util.time: pattern letter ${letter.repeat(count)} is not supported by canaria ` +
      '(supported: y u M L d D E a H h K k m s S n X x Z z V O and quoted text)',
  );
}

// ---- formatting ---------------------------------------------------------------------------

function fields(epochMs, zone) {
  const offset = zone.offsetSeconds(epochMs);
  const d = new Date(epochMs + offset * 1000);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    dayOfYear: Math.floor((d.getTime() - start) / 86400000) + 1,
    weekday: d.getUTCDay(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    milli: ((epochMs % 1000) + 1000) % 1000,
    offset,
    zone,
    epochMs,
  };
}

function zoneName(f, style) {
  if (f.zone.fixed) return f.offset === 0 ? 'Z' : offsetText(f.offset, true);
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: f.zone.id, timeZoneName: style })
    .formatToParts(new Date(f.epochMs));
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? f.zone.id;
}

function formatField({ letter, count }, f) {
  switch (letter) {
    case 'y':
    case 'u':
      return count === 2 ? pad(f.year % 100, 2) : pad(f.year, count);
    case 'M':
    case 'L':
      if (count >= 5) return MONTHS[f.month - 1][0];
      if (count === 4) return MONTHS[f.month - 1];
      if (count === 3) return MONTHS[f.month - 1].slice(0, 3);
      return pad(f.month, count);
    case 'd':
      return pad(f.day, count);
    case 'D':
      return pad(f.dayOfYear, count);
    case 'E':
      if (count >= 5) return DAYS[f.weekday][0];
      return count === 4 ? DAYS[f.weekday] : DAYS[f.weekday].slice(0, 3);
    case 'a':
      return f.hour < 12 ? 'AM' : 'PM';
    case 'H':
      return pad(f.hour, count);
    case 'k':
      return pad(f.hour === 0 ? 24 : f.hour, count);
    case 'h':
      return pad(f.hour % 12 === 0 ? 12 : f.hour % 12, count);
    case 'K':
      return pad(f.hour % 12, count);
    case 'm':
      return pad(f.minute, count);
    case 's':
      return pad(f.second, count);
    case 'S':
      return String(f.milli).padStart(3, '0').padEnd(count, '0').slice(0, count);
    case 'n':
      return String(f.milli * 1000000);
    case 'X':
    case 'x':
      if (letter === 'X' && f.offset === 0) return 'Z';
      if (count === 1) {
        return f.offset % 3600 === 0 ? offsetText(f.offset, false).slice(0, 3)
          : offsetText(f.offset, false);
      }
      if (count === 2 || count === 4) return offsetText(f.offset, false, count === 4);
      return offsetText(f.offset, true, count === 5);
    case 'Z':
      if (count <= 3) return offsetText(f.offset, false);
      if (count === 4) return f.offset === 0 ? 'GMT' : `GMT${offsetText(f.offset, true)}`;
      return f.offset === 0 ? 'Z' : offsetText(f.offset, true, true);
    case 'O':
      if (f.offset === 0) return 'GMT';
      return count === 4 ? `GMT${offsetText(f.offset, true)}`
        : `GMT${f.offset < 0 ? '-' : '+'}${Math.floor(Math.abs(f.offset) / 3600)}`;
    case 'z':
      return zoneName(f, count === 4 ? 'long' : 'short');
    case 'V':
      return f.zone.id;
    default:
      throw unsupported(letter, count);
  }
}

function render(tokens, f) {
  return tokens
    .map((t) => {
      if (t.text !== undefined) return t.text;
      if (t.optional !== undefined) return render(t.optional, f);
      return formatField(t, f);
    })
    .join('');
}

export function format(epochMs, pattern, timezone) {
  if (typeof pattern !== 'string') throw new TypeError('util.time: the format must be a string');
  return render(tokenize(pattern), fields(Number(epochMs), zoneOf(timezone)));
}

// ---- parsing ------------------------------------------------------------------------------

const NUMBER = {
  y: 'year', u: 'year', M: 'month', L: 'month', d: 'day', H: 'hour', k: 'hour', h: 'hour12',
  K: 'hour12', m: 'minute', s: 'second',
};

// Match `tokens` at `pos` of `text` into `into`; the end position, or -1.
function match(tokens, text, pos, into) {
  for (const [i, t] of tokens.entries()) {
    if (t.text !== undefined) {
      if (!text.startsWith(t.text, pos)) return -1;
      pos += t.text.length;
    } else if (t.optional !== undefined) {
      const trial = { ...into };
      const end = match(t.optional, text, pos, trial);
      if (end >= 0) {
        Object.assign(into, trial);
        pos = end;
      }
    } else {
      const adjacent = tokens[i + 1]?.letter !== undefined;
      pos = matchField(t, text, pos, into, adjacent);
      if (pos < 0) return -1;
    }
  }
  return pos;
}

// `adjacent`: another field follows without a separator ("yyyyMMdd"), so a number takes
// exactly as many digits as its letters say
function matchField({ letter, count }, text, pos, into, adjacent) {
  const rest = text.slice(pos);
  let m;
  if (letter in NUMBER || letter === 'D') {
    const textual = (letter === 'M' || letter === 'L') && count >= 3;
    if (textual) {
      const found = MONTHS.findIndex((name) =>
        rest.toLowerCase().startsWith((count === 3 ? name.slice(0, 3) : name).toLowerCase()));
      if (found < 0) return -1;
      into.month = found + 1;
      return pos + (count === 3 ? 3 : MONTHS[found].length);
    }
    const year = letter === 'y' || letter === 'u';
    const widest = adjacent ? count : year ? (count === 2 ? 2 : 9) : Math.max(count, 2);
    const narrowest = adjacent || count === 2 ? count : 1;
    m = new RegExp(`^${year && !adjacent ? '[+-]?' : ''}\\d{${narrowest},${widest}}`).exec(rest);
    if (!m) return -1;
    let n = Number(m[0]);
    if ((letter === 'y' || letter === 'u') && count === 2) n += 2000;
    if (letter !== 'D') into[NUMBER[letter]] = letter === 'k' && n === 24 ? 0 : n;
    return pos + m[0].length;
  }
  switch (letter) {
    case 'S':
      m = (adjacent ? new RegExp(`^\\d{${count}}`) : /^\d+/).exec(rest);
      if (!m) return -1;
      into.milli = Math.floor(Number(`0.${m[0]}`) * 1000);
      return pos + m[0].length;
    case 'a':
      m = /^(AM|PM)/i.exec(rest);
      if (!m) return -1;
      into.pm = m[0].toUpperCase() === 'PM';
      return pos + 2;
    case 'E': {
      const found = DAYS.find((name) =>
        rest.toLowerCase().startsWith((count === 4 ? name : name.slice(0, 3)).toLowerCase()));
      return found === undefined ? -1 : pos + (count === 4 ? found.length : 3);
    }
    case 'X':
    case 'x':
    case 'Z':
    case 'O':
      m = /^(?:Z|GMT|UTC)?(?:[+-]\d{1,2}(?::?\d{2})?(?::?\d{2})?)?/.exec(rest);
      if (!m || m[0] === '') return -1;
      into.zone = zoneOf(m[0] === 'Z' ? 'UTC' : m[0]);
      return pos + m[0].length;
    case 'V':
    case 'z':
      m = /^[A-Za-z_]+(?:\/[A-Za-z_+-]+)*|^[+-]\d{2}:?\d{2}/.exec(rest);
      if (!m) return -1;
      into.zone = zoneOf(m[0]);
      return pos + m[0].length;
    default:
      throw unsupported(letter, count);
  }
}

function wallToEpoch(p, zone) {
  let hour = p.hour ?? 0;
  if (p.hour12 !== undefined) hour = (p.hour12 % 12) + (p.pm ? 12 : 0);
  const wall = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, hour, p.minute ?? 0,
    p.second ?? 0, p.milli ?? 0);
  // the offset in force at that wall time: guessed from the wall time, then corrected once
  let epoch = wall - zone.offsetSeconds(wall) * 1000;
  epoch = wall - zone.offsetSeconds(epoch) * 1000;
  return epoch;
}

export function parse(text, pattern, timezone) {
  if (typeof text !== 'string' || typeof pattern !== 'string') {
    throw new TypeError('util.time.parseFormattedToEpochMilliSeconds: expected two strings');
  }
  const parts = {};
  const end = match(tokenize(pattern), text, 0, parts);
  if (end !== text.length) {
    throw new RangeError(
      `util.time: ${JSON.stringify(text)} does not match the format ${JSON.stringify(pattern)}`,
    );
  }
  const zone = parts.zone ?? (timezone !== undefined ? zoneOf(timezone) : null);
  if (zone === null) {
    throw new RangeError(
      `util.time: the format ${JSON.stringify(pattern)} has no time zone: add one to it ` +
        '(Z, X, VV) or pass the time zone as the third argument',
    );
  }
  return wallToEpoch(parts, zone);
}

const ISO8601 = new RegExp(
  '^(\\d{4})-(\\d{2})-(\\d{2})' + // date
    '(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d+))?)?)?' + // time
    '(Z|[+-]\\d{2}(?::?\\d{2})?)?$', // zone
);

export function parseISO8601(text) {
  const m = ISO8601.exec(String(text));
  if (!m) throw new RangeError(`util.time: ${JSON.stringify(text)} is not an ISO 8601 timestamp`);
  const parts = {
    year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0), second: Number(m[6] ?? 0),
    milli: m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0,
  };
  return wallToEpoch(parts, zoneOf(m[8] === undefined || m[8] === 'Z' ? 'UTC' : m[8]));
}

export const timeUtil = {
  nowISO8601: () => new Date(nowMs()).toISOString(),
  nowEpochSeconds: () => Math.floor(nowMs() / 1000),
  nowEpochMilliSeconds: () => nowMs(),
  nowFormatted: (pattern, timezone) => format(nowMs(), pattern, timezone),
  parseFormattedToEpochMilliSeconds: (text, pattern, timezone) => parse(text, pattern, timezone),
  parseISO8601ToEpochMilliSeconds: (text) => parseISO8601(text),
  epochMilliSecondsToSeconds: (ms) => Math.trunc(Number(ms) / 1000),
  epochMilliSecondsToISO8601: (ms) => new Date(Number(ms)).toISOString(),
  epochMilliSecondsToFormatted: (ms, pattern, timezone) => format(ms, pattern, timezone),
};
