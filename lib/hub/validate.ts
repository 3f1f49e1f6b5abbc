// Validation: everything that becomes part of a local path is checked here, so that nothing a
// caller, a server or a downloaded index file says can point outside the cache folder.
import * as path from 'path';
import { HubError } from './errors';

// The Hub's own rule (huggingface_hub.utils.validate_repo_id): `name` or `owner/name`, each part
// of letters, digits, '_', '-', '.', starting and ending with a letter, digit or '_', at most 96
// characters; no '--' or '..' anywhere; not ending in '.git'.
const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

export function validateRepoId(repoId: string): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid repo id ${JSON.stringify(repoId)}: ${why}. Expected 'name' or 'owner/name' (e.g. 'distilbert-base-uncased', 'stanfordnlp/imdb'), or a local folder that exists.`);
  if (typeof repoId !== 'string' || repoId.length === 0) throw bad('it is empty');
  const parts = repoId.split('/');
  if (parts.length > 2) throw bad('it has more than one "/"');
  if (repoId.includes('--') || repoId.includes('..')) throw bad("'--' and '..' are not allowed");
  if (repoId.endsWith('.git')) throw bad("it must not end with '.git'");
  for (const part of parts) {
    if (!REPO_PART.test(part)) {
      throw bad(`'${part}' must be 1-96 letters, digits, '_', '-' or '.', starting and ending with a letter, digit or '_'`);
    }
  }
}

/** A repo-relative file name: 'config.json', 'plain_text/train-00000-of-00001.parquet'. */
export function validateFilename(filename: string, what = 'file name'): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid ${what} ${JSON.stringify(filename)}: ${why}. Use a path relative to the repo root with '/' separators, e.g. 'config.json' or 'plain_text/train-00000-of-00001.parquet'.`);
  if (typeof filename !== 'string' || filename.length === 0) throw bad('it is empty');
  if (filename.length > 1000) throw bad('it is longer than 1000 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(filename)) throw bad('it contains a NUL or control character');
  if (filename.includes('\\')) throw bad('backslashes are not allowed');
  if (filename.startsWith('/') || path.isAbsolute(filename) || /^[A-Za-z]:/.test(filename)) throw bad('absolute paths are not allowed');
  for (const segment of filename.split('/')) {
    if (segment === '') throw bad("it has an empty path segment ('//' or a trailing '/')");
    if (segment === '.' || segment === '..') throw bad("'.' and '..' segments are not allowed");
  }
}

/** A branch, tag or commit: 'main', 'v1.0', 'refs/pr/1', a 40-hex sha. */
export function validateRevision(revision: string): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid revision ${JSON.stringify(revision)}: ${why}. Use a branch, tag or commit such as 'main', 'v1.0' or 'refs/pr/1'.`);
  if (typeof revision !== 'string' || revision.length === 0) throw bad('it is empty');
  if (revision.length > 255) throw bad('it is longer than 255 characters');
  if (!/^[A-Za-z0-9._\-/]+$/.test(revision)) throw bad("only letters, digits, '.', '_', '-' and '/' are allowed");
  for (const segment of revision.split('/')) {
    if (segment === '') throw bad("it has an empty segment ('//', or a leading or trailing '/')");
    // Git forbids components starting with '.', which also keeps revision folders apart from .meta/.no_exist.
    if (segment.startsWith('.')) throw bad("a segment must not start with '.'");
  }
}

export function validateEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new HubError('INVALID_ARGUMENT', `Invalid Hub endpoint ${JSON.stringify(endpoint)} (from HF_ENDPOINT or opts.endpoint): expected a URL like https://huggingface.co.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HubError('INVALID_ARGUMENT', `Invalid Hub endpoint ${JSON.stringify(endpoint)}: only http:// and https:// are supported.`);
  }
  return url;
}
