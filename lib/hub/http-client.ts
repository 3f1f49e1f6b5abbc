// HTTP for the Hub: one GET or HEAD at a time, redirects followed by hand (to control where the
// token goes), and the parsing of the headers a download needs.
//
// Auth: `Authorization: Bearer $HF_TOKEN` goes to the endpoint and to redirects on the same
// origin only. Like `requests` (which huggingface_hub uses), the header is dropped as soon as a
// redirect leaves the origin, so the token never reaches a CDN or another host.
import * as http from 'http';
import * as https from 'https';
import { HubError } from './errors';

export const USER_AGENT = 'distilbert-qlora-ts/0.1 (hub; node)';
const MAX_REDIRECTS = 10;

/** `"abc"`, `W/"abc"` → `abc`; the form the Hub's etags are compared in. */
export function normalizeEtag(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  const v = (Array.isArray(value) ? value[0] : value).trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return v === '' ? null : v;
}

export const isSha256 = (etag: string | null): etag is string => etag !== null && /^[0-9a-f]{64}$/i.test(etag);

export function headerInt(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

// `bytes 100-199/1000` → {start: 100, total: 1000}; `bytes */1000` (a 416 answer) → {start: null, total: 1000}.
export function parseContentRange(value: string | undefined): { start: number | null; total: number | null } | null {
  if (!value) return null;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return null;
  return { start: m[1] !== undefined ? Number(m[1]) : null, total: m[3] === '*' ? null : Number(m[3]) };
}

/** One GET or HEAD, no redirect handling. Resolves when the headers arrive. */
export function requestOnce(url: URL, headers: Record<string, string>, timeoutMs: number, method: 'GET' | 'HEAD' = 'GET'): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // agent: false → a fresh connection, closed afterwards: nothing pooled keeps the process alive.
    const req = client.request(url, { method, headers, agent: false }, resolve);
    // The socket timeout also covers a body that stalls half-way (the response then errors).
    req.setTimeout(timeoutMs, () => {
      const err = Object.assign(new Error(`no data from ${url.host} for ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      req.destroy(err);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Opened {
  res: http.IncomingMessage;
  url: URL; // where the body comes from, after redirects
}

/** GET with redirects followed by hand, so that we see the Hub's headers and control auth. */
export async function openFollowingRedirects(
  start: URL,
  baseHeaders: Record<string, string>,
  token: string | null,
  timeoutMs: number,
): Promise<Opened> {
  let url = start;
  let sendToken = token !== null;
  for (let hop = 0; ; hop++) {
    const headers = { ...baseHeaders };
    if (sendToken) headers.Authorization = `Bearer ${token}`;
    const res = await requestOnce(url, headers, timeoutMs);
    const status = res.statusCode ?? 0;
    if (!isRedirect(status)) return { res, url };

    res.resume(); // discard the redirect's body
    if (hop >= MAX_REDIRECTS) {
      throw new HubError('REDIRECT', `Too many redirects (more than ${MAX_REDIRECTS}) starting from ${start}; last one went to ${url}.`);
    }
    const location = res.headers.location;
    if (!location) throw new HubError('REDIRECT', `${url} answered ${status} without a Location header.`);
    let next: URL;
    try {
      next = new URL(location, url); // relative locations resolve against the current URL
    } catch {
      throw new HubError('REDIRECT', `${url} redirected to an invalid location ${JSON.stringify(location)}.`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new HubError('REDIRECT', `${url} redirected to unsupported ${next.protocol} URL ${next}.`);
    }
    // Never carry the token to another origin (a CDN, a mirror): same rule as requests' rebuild_auth.
    if (next.origin !== url.origin) sendToken = false;
    url = next;
  }
}

export const isRedirect = (status: number) => [301, 302, 303, 307, 308].includes(status);

export const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);
export const TRANSIENT_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

export function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : '';
}
