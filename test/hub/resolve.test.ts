// lib/hub/resolve.ts: snapshot() and resolveRepoFolder() against the fake Hub (helpers/fake-hub):
// alternatives, optional files, shard indexes, local folders, offline mode.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { resolveRepoFolder, snapshot } from '../../lib/hub/hub';
import { hubError, useFakeHub } from '../helpers/fake-hub';

const env = useFakeHub();
const { opts, modelFolder } = env;
const snapshotOf = (repo: string, rev = 'main') => path.join(modelFolder(repo), 'snapshots', env.hub.commit(repo, rev));

describe('snapshot', () => {
  function addShardedModel(repo: string) {
    const files: Record<string, Buffer> = {
      'config.json': Buffer.from('{"model_type": "distilbert"}'),
      'model-00001-of-00002.safetensors': crypto.randomBytes(20_000),
      'model-00002-of-00002.safetensors': crypto.randomBytes(15_000),
      'vocab.txt': Buffer.from('[PAD]\n[UNK]\n'),
    };
    files['model.safetensors.index.json'] = Buffer.from(
      JSON.stringify({
        metadata: { total_size: 35_000 },
        weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.bias': 'model-00002-of-00002.safetensors' },
      }),
    );
    for (const [name, body] of Object.entries(files)) env.hub.addFile(repo, name, { body, lfs: name.endsWith('.safetensors') ? true : false });
    return files;
  }

  const FILES = ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?', 'vocab.txt?'];

  test('takes the first existing alternative, follows a shard index, skips missing optional files', async () => {
    const files = addShardedModel('acme/sharded');
    const folder = await snapshot('acme/sharded', FILES, opts());
    expect(folder).toBe(snapshotOf('acme/sharded'));
    for (const [name, body] of Object.entries(files)) {
      expect(fs.readFileSync(path.join(folder, name)).equals(body)).toBe(true);
    }
    expect(fs.existsSync(path.join(folder, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(folder, 'tokenizer.json'))).toBe(false);

    // The missing optional file is remembered as .no_exist/<commit>/ (huggingface_hub's marker).
    const commit = path.basename(folder);
    expect(fs.existsSync(path.join(modelFolder('acme/sharded'), '.no_exist', commit, 'tokenizer.json'))).toBe(true);
    expect(fs.existsSync(path.join(modelFolder('acme/sharded'), '.no_exist', commit, 'model.safetensors'))).toBe(true);

    // Again online: one HEAD (config.json) finds main unchanged; the rest is pinned to that commit
    // and answered by the cache, "does not exist" included. Offline: no request at all.
    const before = env.hub.hits().length;
    expect(await snapshot('acme/sharded', FILES, opts())).toBe(folder);
    expect(env.hub.hits().slice(before).map((h) => `${h.method} ${h.path}`)).toEqual(['HEAD /acme/sharded/resolve/main/config.json']);
    expect(await snapshot('acme/sharded', FILES, opts({ offline: true }))).toBe(folder);
    expect(env.hub.hits()).toHaveLength(before + 1);
  });

  test('missing required files are errors naming them', async () => {
    addShardedModel('acme/sharded');
    const one = await hubError(snapshot('acme/sharded', ['config.json', 'missing.json'], opts()), 'NOT_FOUND');
    expect(one.message).toContain("'missing.json'");
    const alt = await hubError(snapshot('acme/sharded', ['a.bin|b.bin'], opts()), 'NOT_FOUND');
    expect(alt.message).toContain("'a.bin' or 'b.bin'");
    const offline = await hubError(snapshot('acme/other', ['config.json'], opts({ offline: true })), 'NOT_CACHED');
    expect(offline.message).toContain("'config.json' of model repo 'acme/other'");
    expect(offline.message).toContain(env.cacheDir());
  });

  test('a shard index cannot make us write outside the cache', async () => {
    const index = { weight_map: { w: '../../../evil.safetensors' } };
    env.hub.addFile('acme/evil', 'model.safetensors.index.json', { body: Buffer.from(JSON.stringify(index)), lfs: false });
    const err = await hubError(snapshot('acme/evil', ['model.safetensors.index.json'], opts()), 'BAD_FILE');
    expect(err.message).toContain('../../../evil.safetensors');
    expect(env.hub.hits('evil.safetensors')).toHaveLength(0);
    expect(fs.readdirSync(env.tmp)).toEqual(['cache']);
    expect(fs.readdirSync(modelFolder('acme/evil'))).toEqual(['blobs', 'refs', 'snapshots']);
  });
});

describe('resolveRepoFolder', () => {
  test('an existing local folder is returned without any request; a repo id is downloaded', async () => {
    const local = path.join(env.tmp, 'my-model');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'config.json'), '{}');
    fs.writeFileSync(path.join(local, 'model.safetensors'), 'x');
    expect(await resolveRepoFolder(local, ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?'], opts())).toBe(local);
    expect(env.hub.hits()).toHaveLength(0);

    env.hub.addFile('acme/r', 'config.json', { body: Buffer.from('{}'), lfs: false });
    expect(await resolveRepoFolder('acme/r', ['config.json'], opts())).toBe(snapshotOf('acme/r'));
    expect(env.hub.hits().map((h) => h.method)).toEqual(['HEAD', 'GET']);
  });

  test('a local folder missing a required file, or a path that does not exist, is a clear error', async () => {
    const local = path.join(env.tmp, 'half-model');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'config.json'), '{}');
    const err = await hubError(resolveRepoFolder(local, ['config.json', 'model.safetensors|model.safetensors.index.json'], opts()), 'NOT_FOUND');
    expect(err.message).toContain(local);
    expect(err.message).toContain("'model.safetensors' or 'model.safetensors.index.json'");

    const gone = await hubError(resolveRepoFolder(path.join(env.tmp, 'nope'), ['config.json'], opts()), 'NOT_FOUND');
    expect(gone.message).toContain(path.join(env.tmp, 'nope'));
    expect(env.hub.hits()).toHaveLength(0);
  });
});

describe('snapshot pins one commit', () => {
  test('a push to main between two files does not mix versions: the second file comes from the first one\'s commit', async () => {
    env.hub.addFile('acme/push', 'config.json', { body: Buffer.from('{"v": 1}'), lfs: false });
    env.hub.addFile('acme/push', 'vocab.txt', { body: Buffer.from('v1\n'), lfs: false });
    const c1 = env.hub.commit('acme/push');
    // The Hub answers a commit hash with that commit's files, whatever main says meanwhile.
    const folder = await snapshot('acme/push', ['config.json', 'vocab.txt'], opts());
    expect(folder).toBe(path.join(modelFolder('acme/push'), 'snapshots', c1));
    expect(env.hub.hits('/resolve/').filter((h) => h.method === 'HEAD').map((h) => h.path)).toEqual([
      '/acme/push/resolve/main/config.json',
      `/acme/push/resolve/${c1}/vocab.txt`,
    ]);
    expect(fs.readFileSync(path.join(folder, 'vocab.txt'), 'utf8')).toBe('v1\n');
  });
});
