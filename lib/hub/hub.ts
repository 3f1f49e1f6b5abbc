// Downloads files from the Hugging Face Hub into Hugging Face's own cache, in huggingface_hub's
// layout, so that Python (transformers, datasets, PEFT) and this project share every download:
//
//   download('distilbert-base-uncased', 'config.json')
//     → ~/.cache/huggingface/hub/models--distilbert-base-uncased/snapshots/<commit>/config.json
//   snapshot('distilbert-base-uncased', ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?'])
//   resolveRepoFolder(process.env.QLORA_MODEL ?? 'distilbert-base-uncased', files)   // a local folder wins, no network
//
// This file is the folder's public API; each idea lives in its own file:
//   environment.ts      HF_HOME, HF_HUB_CACHE, HF_TOKEN / the login token file, HF_HUB_OFFLINE
//   options.ts          HubOptions and their defaults
//   validate.ts         repo ids, file names, revisions, endpoints (nothing can point outside the cache)
//   cache.ts            the cache layout: blobs/, snapshots/<commit>/, refs/, .no_exist/; each file's URL
//   http.ts             GET/HEAD with redirects followed by hand; the token stays on the Hub's origin
//   metadata.ts         the HEAD that resolves a revision to a commit, etag and size
//   lock.ts             one downloader per blob across processes
//   download.ts         one file: offline and fallback to the cache, Range resume, sha256 check, retries
//   download-errors.ts  every failure as a HubError that says what to do
//   resolve.ts          snapshot() and resolveRepoFolder(): local folders, alternatives, one pinned commit
//   shard-index.ts      the shard files named by a model.safetensors.index.json
//   errors.ts           HubError and its codes
export { HubError } from './errors';
export type { HubErrorCode } from './errors';
export type { HubOptions, RepoType } from './options';
export { hubCacheDir } from './environment';
export { validateFilename, validateRepoId, validateRevision } from './validate';
export { repoCacheFolder } from './cache';
export { download } from './download';
export { resolveRepoFolder, snapshot } from './resolve';
