// `npm run serve` as a user runs it: a child process on 127.0.0.1, stopped by SIGTERM while a
// request is in flight (that request must still be answered); and its command-line parsing.
import { spawn } from 'child_process';
import * as path from 'path';
import { useBackend } from '../../lib/index';
import { parseServeArgs } from '../../scripts/serve';
import { REPO_ROOT } from '../helpers/assets';
import { cleanupTempDirs } from '../helpers/checkpoint';
import { makeServingFixture } from './fixture';

afterAll(() => cleanupTempDirs());

test('SIGTERM lets the request in flight finish, then the server exits with 0', async () => {
  await useBackend('cpu');
  const fixture = await makeServingFixture();
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join('scripts', 'serve.ts'),
      '--model', fixture.ckpt, '--adapter', fixture.adapters.peft, '--adapter', `stars=${fixture.adapters.stars}`,
      '--port', '0', '--host', '127.0.0.1', '--backend', 'cpu', '--max-length', '32',
      // The request waits this long for company in the batcher: it is surely in flight at SIGTERM.
      '--max-wait-ms', '1500'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${stdout}\n${stderr}`)), 60000);
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`server exited before listening:\n${stdout}\n${stderr}`)));
    });
    expect(stdout).toContain('adapters peft-adapter (negative/positive), stars (bad/so-so/good)');

    const inFlight = fetch(`${url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ texts: ['A wonderful film.'], adapter: 'stars' }),
    });
    // Wait until the server holds the request in its queue, then ask it to stop.
    for (let i = 0; ; i++) {
      const health = (await (await fetch(`${url}/health`)).json()) as { queue: { pending: number } };
      if (health.queue.pending > 0) break;
      if (i > 100) throw new Error('the request never reached the queue');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const json = (await res.json()) as { predictions: { label: string }[]; adapter: string };
    expect(json.adapter).toBe('stars');
    expect(['bad', 'so-so', 'good']).toContain(json.predictions[0].label);
    expect(await exited).toBe(0);
    expect(stdout).toContain('SIGTERM: finishing in-flight requests');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

describe('parseServeArgs', () => {
  it('names a bare adapter folder after itself and keeps the order (the first is the default)', () => {
    const args = parseServeArgs(['--model', 'distilbert-base-uncased', '--adapter', 'reports/trained_model', '--adapter', 'imdb=/tmp/a/', '--port', '9000']);
    expect(args.server.adapters).toEqual([
      { name: 'trained_model', dir: 'reports/trained_model' },
      { name: 'imdb', dir: '/tmp/a/' },
    ]);
    expect(args).toMatchObject({ port: 9000, host: '127.0.0.1' });
    expect(args.server).toMatchObject({ model: 'distilbert-base-uncased', quantization: 'nf4' });
  });

  it('says what is missing or wrong', () => {
    expect(() => parseServeArgs(['--adapter', 'x'])).toThrow(/--model is required/);
    expect(() => parseServeArgs(['--model', 'm'])).toThrow(/at least one --adapter/);
    expect(() => parseServeArgs(['--model', 'm', '--adapter', 'x', '--port', 'eighty'])).toThrow(/--port must be an integer ≥ 0, got 'eighty'/);
    expect(() => parseServeArgs(['--model', 'm', '--adapter', 'x', '--quantization', 'int8'])).toThrow(/nf4 or none/);
    expect(() => parseServeArgs(['--model', 'm', '--adapter', 'x', '--adaptor', 'y'])).toThrow(/adaptor/);
  });
});
