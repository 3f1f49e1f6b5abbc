// Downloads files from the Hugging Face Hub into a local cache, like `huggingface_hub` does.
//
//   download('distilbert-base-uncased', 'config.json')                → data/hub/models--distilbert-base-uncased/main/config.json
//   snapshot('distilbert-base-uncased', ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?'])
//   resolveRepoFolder(process.env.QLORA_MODEL ?? 'distilbert-base-uncased', files)   // a local folder wins, no network
//
// This file is the folder's public API; each idea lives in its own file:
//   options.ts          HubOptions and their environment defaults
//   validate.ts         repo ids, file names, revisions, endpoints (nothing can point outside the cache)
//   cache.ts            the cache folder layout, and each file's URL on the Hub
//   http.ts             GET with redirects followed by hand; the token stays on the Hub's origin
//   download.ts         one file: Range resume, sha256 check, retries, progress
//   download-errors.ts  every failure as a HubError that says what to do
//   resolve.ts          snapshot() and resolveRepoFolder(): local folders, offline mode, alternatives
//   shard-index.ts      the shard files named by a model.safetensors.index.json
//   errors.ts           HubError and its codes
export { HubError } from './errors';
export type { HubErrorCode } from './errors';
export type { HubOptions, RepoType } from './options';
export { validateFilename, validateRepoId, validateRevision } from './validate';
export { repoCacheFolder } from './cache';
export { download } from './download';
export { resolveRepoFolder, snapshot } from './resolve';
