// The request schema of POST /v1/classify and the server's error responses.
//
// Fastify validates bodies with Ajv against the JSON schema below; these helpers turn Ajv's and
// Fastify's errors into one JSON shape with a message that says what to change:
//   {"statusCode": 400, "error": "Bad Request", "code": "invalid_texts", "message": "texts[2] must be a string, got a number"}
import { STATUS_CODES } from 'http';
import type { FastifyError } from 'fastify';

/** The JSON error body every 4xx/5xx response carries. */
export interface ErrorBody {
  statusCode: number;
  /** The HTTP reason phrase, as Fastify's own errors have. */
  error: string;
  /** A stable machine-readable code, e.g. 'invalid_json', 'unknown_adapter'. */
  code: string;
  message: string;
}

/** An error with the status and code to answer with. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message };
}

/** POST /v1/classify's body schema. `maxTexts` bounds the number of texts per request. */
export function classifyBodySchema(maxTexts: number): Record<string, unknown> {
  return {
    type: 'object',
    required: ['texts'],
    additionalProperties: false,
    properties: {
      texts: { type: 'array', minItems: 1, maxItems: maxTexts, items: { type: 'string' } },
      adapter: { type: 'string', minLength: 1 },
    },
  };
}

/** Ajv's error object, with `data` (the offending value) because the validator runs with verbose: true. */
interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** '/texts/3' → 'texts[3]'. */
function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

/** One sentence for the first schema violation of a classify body. */
export function describeSchemaError(e: AjvError, maxTexts: number): { code: string; message: string } {
  const field = fieldName(e.instancePath);
  const example = 'e.g. {"texts": ["A wonderful film."]}';
  switch (e.keyword) {
    case 'required': {
      const keys = e.data && typeof e.data === 'object' ? Object.keys(e.data) : [];
      const had = keys.length ? ` (it has ${keys.map((k) => `"${k}"`).join(', ')})` : '';
      return { code: 'missing_texts', message: `the body has no "texts"${had}: send a non-empty array of strings, ${example}` };
    }
    case 'additionalProperties':
      return { code: 'unknown_field', message: `unknown field "${e.params.additionalProperty}": the body takes "texts" and, optionally, "adapter"` };
    case 'minItems':
      return { code: 'empty_texts', message: '"texts" is empty: send at least one text' };
    case 'maxItems': {
      const n = Array.isArray(e.data) ? e.data.length : 'too many';
      return { code: 'too_many_texts', message: `"texts" has ${n} texts, more than the ${maxTexts} a request may hold: split them over several requests` };
    }
    case 'minLength':
      return { code: 'invalid_adapter', message: '"adapter" is empty: name one of GET /v1/adapters, or leave it out for the default' };
    case 'type':
      if (field === '') return { code: 'invalid_body', message: `the body must be a JSON object, got ${typeOf(e.data)}; ${example}` };
      if (field === 'texts') return { code: 'invalid_texts', message: `"texts" must be an array of strings, got ${typeOf(e.data)}` };
      if (field.startsWith('texts[')) return { code: 'invalid_texts', message: `${field} must be a string, got ${typeOf(e.data)}` };
      if (field === 'adapter') return { code: 'invalid_adapter', message: `"adapter" must be a string (an adapter name), got ${typeOf(e.data)}` };
      break;
  }
  return { code: 'invalid_body', message: `${field || 'body'} ${e.message ?? 'is invalid'}` };
}

/** Maps any error a route or Fastify raised to the status and body to send. */
export function toErrorBody(err: FastifyError | HttpError | Error, maxTexts: number, bodyLimit: number): ErrorBody {
  if (err instanceof HttpError) return errorBody(err.statusCode, err.code, err.message);
  const fe = err as FastifyError & { validation?: AjvError[] };
  if (fe.validation && fe.validation.length > 0) {
    const { code, message } = describeSchemaError(fe.validation[0], maxTexts);
    return errorBody(400, code, message);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errorBody(415, 'unsupported_media_type', 'the body must be JSON, sent with the header Content-Type: application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errorBody(400, 'invalid_content_length', 'the Content-Length header does not match the body');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errorBody(413, 'body_too_large', `the body is larger than the ${bodyLimit} bytes a request may have: send fewer or shorter texts per request`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errorBody(400, 'empty_body', 'the body is empty: send a JSON object, e.g. {"texts": ["A wonderful film."]}');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errorBody(400, 'invalid_json', `the body is not valid JSON (${fe.message})`);
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
    return errorBody(400, 'invalid_json', `the body is not valid JSON (${fe.message})`);
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (status < 500) return errorBody(status, fe.code ? fe.code.toLowerCase() : 'bad_request', fe.message);
  return errorBody(status, 'internal_error', `the server failed on this request: ${fe.message}`);
}
