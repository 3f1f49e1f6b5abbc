// lib/hub/resolve.ts: snapshot() and resolveRepoFolder() against the fake Hub (helpers/fake-hub):
// alternatives, optional files, shard indexes, local folders, offline mode.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { resolveRepoFolder, snapshot } from '../../lib/hub/hub';
import { hubError, useFakeHub } from '../helpers/fake-hub';

const env = useFakeHub();
const { opts, modelFolder } = env;

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
    expect(folder).toBe(modelFolder('acme/sharded'));
    for (const [name, body] of Object.entries(files)) {
      expect(fs.readFileSync(path.join(folder, name)).equals(body)).toBe(true);
    }
    expect(fs.existsSync(path.join(folder, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(folder, 'tokenizer.json'))).toBe(false);

    // Everything, including "does not exist", is remembered: a second snapshot makes no request.
    const before = env.hub.hits().length;
    expect(await snapshot('acme/sharded', FILES, opts())).toBe(folder);
    expect(await snapshot('acme/sharded', FILES, opts({ offline: true }))).toBe(folder);
    expect(env.hub.hits()).toHaveLength(before);
  });

  test('missing required files are errors naming them', async () => {
    addShardedModel('acme/sharded');
    const one = await hubError(snapshot('acme/sharded', ['config.json', 'missing.json'], opts()), 'NOT_FOUND');
    expect(one.message).toContain("'missing.json'");
    const alt = await hubError(snapshot('acme/sharded', ['a.bin|b.bin'], opts()), 'NOT_FOUND');
    expect(alt.message).toContain("'a.bin' or 'b.bin'");
    const offline = await hubError(snapshot('acme/other', ['config.json'], opts({ offline: true })), 'NOT_CACHED');
    expect(offline.message).toContain(path.join(modelFolder('acme/other'), 'config.json'));
  });

  test('a shard index cannot make us write outside the cache', async () => {
    const index = { weight_map: { w: '../../../evil.safetensors' } };
    env.hub.addFile('acme/evil', 'model.safetensors.index.json', { body: Buffer.from(JSON.stringify(index)), lfs: false });
    const err = await hubError(snapshot('acme/evil', ['model.safetensors.index.json'], opts()), 'INVALID_ARGUMENT');
    expect(err.message).toContain('../../../evil.safetensors');
    expect(env.hub.hits('evil.safetensors')).toHaveLength(0);
    expect(fs.readdirSync(env.tmp)).toEqual(['cache']);
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
    expect(await resolveRepoFolder('acme/r', ['config.json'], opts())).toBe(modelFolder('acme/r'));
    expect(env.hub.hits()).toHaveLength(1);
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
