// A Jupyter server for browser tests: the classic Notebook (Debian's jupyter-notebook, 6.4) or
// JupyterLab, on a free loopback port with a random token, serving the repo root so the kernel's
// working folder is the repo root (tslab resolves the notebook's `./lib` imports from there).
//
// The repo's own notebook is opened, so the server must never write it back: saving (autosave
// included) and checkpoints are refused by a contents manager installed through a throwaway
// config folder. Jupyter's config, data and runtime folders are all temporary; only the
// project's kernel spec (.jupyter/, written by scripts/run-notebook.ts) is read from the repo.
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export type JupyterFrontend = 'notebook' | 'lab';

export interface JupyterServer {
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  token: string;
  /** stdout + stderr of the server so far (for error messages). */
  log(): string;
  /** Shuts down every kernel, then the server; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** True when `jupyter <subcommand> --version` runs (e.g. 'notebook', 'lab'). */
export function jupyterHas(subcommand: string): boolean {
  const probe = spawnSync('jupyter', [subcommand, '--version'], { encoding: 'utf8', timeout: 30000 });
  return !probe.error && probe.status === 0;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Refuses every write of a notebook or checkpoint (HTTP 403): the server serves the repo itself.
// Works for both servers: classic Notebook 6 (notebook.services) and jupyter_server (JupyterLab).
const READ_ONLY_CONFIG = `
try:
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
except ImportError:
    from notebook.services.contents.largefilemanager import LargeFileManager
from tornado import web

class ReadOnlyContentsManager(LargeFileManager):
    def save(self, model, path=''):
        raise web.HTTPError(403, 'browser test: saving is disabled (the repo notebook stays as it is)')
    def create_checkpoint(self, path=''):
        raise web.HTTPError(403, 'browser test: checkpoints are disabled')

c.NotebookApp.contents_manager_class = ReadOnlyContentsManager
c.ServerApp.contents_manager_class = ReadOnlyContentsManager
# CI containers often run as root; the server only listens on loopback with a random token.
c.NotebookApp.allow_root = True
c.ServerApp.allow_root = True
`;

/**
 * Starts `jupyter notebook` or `jupyter lab` serving `root`, with the kernel specs found on
 * `jupyterPath` and the kernel environment `env` (a kernel inherits the server's environment).
 * Rejects (after stopping the server) if it does not answer within `timeoutMs`.
 */
export async function startJupyter(opts: {
  frontend: JupyterFrontend;
  root: string;
  jupyterPath: string;
  env: NodeJS.ProcessEnv;
  /** Temporary folder for Jupyter's own config, data and runtime files. */
  tmpDir: string;
  timeoutMs?: number;
}): Promise<JupyterServer> {
  const port = await freePort();
  const token = crypto.randomBytes(24).toString('hex');
  const configDir = path.join(opts.tmpDir, 'jupyter-config');
  fs.mkdirSync(configDir, { recursive: true });
  const configName = opts.frontend === 'lab' ? 'jupyter_server_config.py' : 'jupyter_notebook_config.py';
  fs.writeFileSync(path.join(configDir, configName), READ_ONLY_CONFIG);
  const app = opts.frontend === 'lab' ? 'ServerApp' : 'NotebookApp';
  // JupyterLab's settings and workspaces in the temp folder too, with autosave off: the refused
  // save would otherwise open an error dialog over the notebook every two minutes.
  const labSettings = path.join(opts.tmpDir, 'lab-user-settings');
  if (opts.frontend === 'lab') {
    const docmanager = path.join(labSettings, '@jupyterlab', 'docmanager-extension');
    fs.mkdirSync(docmanager, { recursive: true });
    fs.writeFileSync(path.join(docmanager, 'plugin.jupyterlab-settings'), JSON.stringify({ autosave: false }));
  }
  const args = [
    opts.frontend,
    '--no-browser',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--port-retries=0',
    `--notebook-dir=${opts.root}`,
    `--${app}.token=${token}`,
    // Lets a test read the kernel's state from JupyterLab's application object (window.jupyterapp).
    ...(opts.frontend === 'lab'
      ? [
          '--LabApp.expose_app_in_browser=True',
          '--LabApp.news_url=None',
          `--LabApp.user_settings_dir=${labSettings}`,
          `--LabApp.workspaces_dir=${path.join(opts.tmpDir, 'lab-workspaces')}`,
        ]
      : []),
  ];
  const child: ChildProcess = spawn('jupyter', args, {
    cwd: opts.root,
    env: {
      ...opts.env,
      JUPYTER_PATH: opts.jupyterPath,
      JUPYTER_CONFIG_DIR: configDir,
      JUPYTER_DATA_DIR: path.join(opts.tmpDir, 'jupyter-data'),
      JUPYTER_RUNTIME_DIR: path.join(opts.tmpDir, 'jupyter-runtime'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output = (output + d).slice(-200000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-200000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const baseUrl = `http://127.0.0.1:${port}`;
  const api = (method: string, p: string) =>
    fetch(`${baseUrl}${p}`, { method, headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(10000) });

  const server: JupyterServer = {
    baseUrl,
    token,
    log: () => output,
    async stop() {
      if (hasExited) return;
      // Kernels run in their own sessions: shut them down through the server before it goes.
      try {
        const kernels = (await (await api('GET', '/api/kernels')).json()) as Array<{ id: string }>;
        await Promise.all(kernels.map((k) => api('DELETE', `/api/kernels/${k.id}`)));
      } catch {
        // the server is not answering: the signals below still stop it
      }
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(killTimer);
    },
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 60000);
  for (;;) {
    if (hasExited) throw new Error(`jupyter ${opts.frontend} exited at start:\n${output}`);
    try {
      if ((await api('GET', '/api/status')).ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`jupyter ${opts.frontend} did not answer on ${baseUrl} within ${opts.timeoutMs ?? 60000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
