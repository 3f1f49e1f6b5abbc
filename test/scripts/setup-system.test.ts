// scripts/setup-system.sh waits for apt's locks instead of failing at once. Run against stub
// apt-get, dpkg-query and sudo on PATH that log their arguments; the stub apt-get answers
// `update` with apt's real "Could not get lock" message while a counter says the lock is held.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'setup-system.sh');

/** A folder of stubs; `lockedUpdates` update calls fail on the lock, `updateError` fails every one otherwise. */
function stubs(lockedUpdates: number, updateError = ''): { bin: string; log: string } {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-setup-'));
  const log = path.join(bin, 'calls.log');
  const counter = path.join(bin, 'locked');
  fs.writeFileSync(counter, String(lockedUpdates));
  const script = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  script('dpkg-query', 'exit 1'); // nothing installed
  script('sudo', 'exec "$@"');
  script(
    'apt-get',
    `echo "apt-get $*" >> ${log}
if [ "$1" = update ]; then
  n=$(cat ${counter})
  if [ "$n" -gt 0 ]; then
    echo $((n - 1)) > ${counter}
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
    exit 100
  fi
  ${updateError ? `echo "${updateError}" >&2; exit 100` : 'echo "Reading package lists..."'}
fi
exit 0`,
  );
  return { bin, log };
}

function run(bin: string, env: Record<string, string> = {}) {
  return spawnSync('bash', [SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SETUP_LOCK_POLL: '1', ...env },
    timeout: 30000,
  });
}

test('waits while another apt holds the lists lock, then installs with dpkg lock waiting on', () => {
  const { bin, log } = stubs(2);
  const result = run(bin);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('another apt holds the package lists lock; waiting up to 600 s');
  const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
  expect(calls.slice(0, 3)).toEqual(['apt-get update -q', 'apt-get update -q', 'apt-get update -q']);
  expect(calls).toHaveLength(4);
  expect(calls[3]).toMatch(/^apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 /);
  expect(calls[3].split(' ')).toEqual(expect.arrayContaining(['jupyter-notebook', 'jupyter-nbconvert', 'chromium']));
});

test('gives up after SETUP_LOCK_TIMEOUT seconds, saying why', () => {
  const { bin, log } = stubs(1000);
  const result = run(bin, { SETUP_LOCK_TIMEOUT: '2' });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain("setup-system: apt's lists lock was still held after 2 s");
  expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(['apt-get update -q', 'apt-get update -q', 'apt-get update -q']);
});

test('another apt-get update error fails at once', () => {
  const { bin, log } = stubs(0, 'E: The repository is not signed.');
  const result = run(bin);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('E: The repository is not signed.');
  expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(['apt-get update -q']);
});
