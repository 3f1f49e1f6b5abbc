// What the Hub says about one file at one revision, before any byte is downloaded: the commit the
// revision points to, the file's etag (its blob name in the cache) and size, and where to fetch it.
// Mirrors huggingface_hub's get_hf_file_metadata: a HEAD on /resolve/ that follows redirects on the
// same host (a renamed repo, the Hub's /api/resolve-cache/) and stops at another host (the CDN), then
//   commit = X-Repo-Commit,  etag = X-Linked-Etag or ETag,  size = X-Linked-Size or Content-Length,
//   location = the Location header (the CDN URL of an LFS or Xet file) or the URL reached.
// Xet-stored files need nothing more: /resolve/ redirects them to a URL that serves plain bytes,
// which is what huggingface_hub itself falls back to without the hf_xet package.
import * as http from 'http';
import { Job, isCommitHash } from './cache';
import { httpError, toHubError } from './download-errors';
import { HubError } from './errors';
import { USER_AGENT, headerInt, isRedirect, normalizeEtag, requestOnce } from './http-client';

export interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  location: URL;
}

/** The file exists (metadata), or the Hub said it does not (with the commit, for .no_exist/). */
// Every member names every field, for tslab's non-strict compile (see Fetched in download.ts).
export type MetadataAnswer =
  | { found: true; meta: FileMetadata; commit?: undefined; error?: undefined }
  | { found: false; meta?: undefined; commit: string | null; error: HubError };

const MAX_SAME_HOST_REDIRECTS = 10;

export async function getFileMetadata(job: Job): Promise<MetadataAnswer> {
  const { o } = job;
  let url = job.url;
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity' };
  if (o.token !== null) headers.Authorization = `Bearer ${o.token}`;

  let res: http.IncomingMessage;
  for (let hop = 0; ; hop++) {
    try {
      res = await requestOnce(url, headers, o.timeoutMs, 'HEAD');
    } catch (err) {
      throw toHubError(err, job, 'connect');
    }
    res.resume();
    const status = res.statusCode ?? 0;
    if (!isRedirect(status) || !res.headers.location) break;
    let next: URL;
    try {
      next = new URL(res.headers.location, url);
    } catch {
      break; // an unusable Location: reported below as this answer's problem
    }
    // Only the same host is followed (huggingface_hub 2's _is_same_or_hub_host), so the token never leaves it.
    if (next.host !== url.host) break;
    if (hop >= MAX_SAME_HOST_REDIRECTS) {
      throw new HubError('REDIRECT', `Too many redirects (more than ${MAX_SAME_HOST_REDIRECTS}) for ${job.url}; last one went to ${url}.`);
    }
    url = next;
  }

  const status = res.statusCode ?? 0;
  const commit = stringHeader(res, 'x-repo-commit');
  if (status === 404 && res.headers['x-error-code'] === 'EntryNotFound') {
    return { found: false, commit: commit !== null && isCommitHash(commit) ? commit : null, error: httpError(job, res, url) };
  }
  if (status >= 400 || (status >= 300 && !isRedirect(status))) throw httpError(job, res, url);

  const etag = normalizeEtag(res.headers['x-linked-etag']) ?? normalizeEtag(res.headers.etag);
  const size = headerInt(res.headers['x-linked-size']) ?? (isRedirect(status) ? null : headerInt(res.headers['content-length']));
  const missing = commit === null || !isCommitHash(commit) ? 'X-Repo-Commit (a 40-hex commit hash)' : etag === null ? 'ETag' : size === null ? 'a size (X-Linked-Size or Content-Length)' : null;
  if (missing !== null || commit === null || etag === null || size === null) {
    // huggingface_hub raises FileMetadataError here: a proxy or firewall answering in the Hub's place.
    throw new HubError(
      'HTTP',
      `${url.host} answered for '${job.filename}' of '${job.repoId}' without ${missing}: it does not look like the ` +
        `Hugging Face Hub. Check HF_ENDPOINT and any proxy or firewall between this machine and the Hub.`,
      { retryable: false },
    );
  }
  const location = res.headers.location ? new URL(res.headers.location, url) : url;
  return { found: true, meta: { commit, etag, size, location } };
}

function stringHeader(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.trim() !== '' ? s.trim() : null;
}
