// A strict JSON parser for safetensors headers.
//
// `JSON.parse` cannot enforce the format's rules: it silently keeps the last of two equal keys
// (the spec: "Duplicate keys are disallowed"), and it turns `2.0` or `1e3` into integers where the
// reference reader (serde_json into `usize`) refuses them. This parser follows RFC 8259 exactly,
// throws on a duplicate key in any object, and returns numbers written with a fraction or an
// exponent as `JsonFloat`, so that shapes and offsets can insist on integer literals.

/** A JSON number written with a fraction or an exponent (`2.0`, `1e3`): not a valid shape or offset. */
export class JsonFloat {
  constructor(readonly value: number, readonly literal: string) {}
}

export type JsonValue = null | boolean | number | JsonFloat | string | JsonValue[] | { [key: string]: JsonValue };

/** Thrown with the byte-free character position of the problem, for the caller to prefix with the file name. */
export class JsonSyntaxError extends Error {}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Parses `text` as one JSON value surrounded by optional JSON whitespace (space, tab, LF, CR),
 * as serde_json does. Throws JsonSyntaxError on invalid JSON and on a duplicate object key.
 */
export function parseStrictJson(text: string): JsonValue {
  let i = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${i}`);
  };
  const skipWs = () => {
    while (i < text.length && WHITESPACE.has(text[i])) i++;
  };
  const expect = (s: string) => {
    if (text.startsWith(s, i)) i += s.length;
    else fail(i >= text.length ? 'unexpected end of input' : `expected '${s}'`);
  };

  function parseString(): string {
    expect('"');
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c < ' ') fail('unescaped control character in a string');
      if (c !== '\\') {
        // Copy the run of plain characters at once: headers of large models hold thousands of names.
        let j = i + 1;
        while (j < text.length && text[j] !== '"' && text[j] !== '\\' && text[j] >= ' ') j++;
        out += text.slice(i, j);
        i = j;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e in simple) {
        out += simple[e];
        i += 2;
      } else if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else {
        fail('invalid escape');
      }
    }
  }

  function parseNumber(): number | JsonFloat {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') fail('invalid number');
    i += m![0].length;
    const value = Number(m![0]);
    return m![2] || m![3] ? new JsonFloat(value, m![0]) : value;
  }

  function parseValue(depth: number): JsonValue {
    if (depth > 64) fail('nesting deeper than 64 levels');
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: JsonValue } = Object.create(null);
      const seen = new Set<string>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        skipWs();
        const at = i;
        const key = parseString();
        if (seen.has(key)) {
          i = at;
          fail(`duplicate key ${JSON.stringify(key)}`);
        }
        seen.add(key);
        skipWs();
        expect(':');
        obj[key] = parseValue(depth + 1);
        skipWs();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return obj;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return arr;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (c === 't') return expect('true'), true;
    if (c === 'f') return expect('false'), false;
    if (c === 'n') return expect('null'), null;
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    return fail(i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  }

  const value = parseValue(0);
  skipWs();
  if (i < text.length) fail('trailing characters after the JSON value');
  return value;
}
