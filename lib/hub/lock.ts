// One downloader per blob at a time, across processes (two jest workers, a notebook and a script):
// a resumed `.incomplete` file must have a single writer, or two appenders interleave their bytes.
// huggingface_hub takes a flock() on `.locks/<repo>/<etag>.lock`; Node has no flock, so we
// create our own file beside it exclusively (O_EXCL) and write our pid into it. A lock whose
// process is gone (killed mid-download) is stale and taken over. Python's and our locks do not
// see each other; Python now writes to a process-unique temporary file, so it cannot collide with
// our `.incomplete`, and both rename complete blobs into place atomically.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const POLL_MS = 200;

/** Runs `fn` while holding the lock file `file`, waiting for another live holder to finish. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const me = `${os.hostname()} ${process.pid}`;
  for (;;) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isStale(file)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The holder is a process of this machine that no longer runs (or the file is unreadable garbage). */
function isStale(file: string): boolean {
  let holder: string;
  try {
    holder = fs.readFileSync(file, 'utf8');
  } catch {
    return false; // released meanwhile: the next try takes it
  }
  if (holder === '') return false; // being written right now
  const [host, pidText] = holder.split(' ');
  const pid = Number(pidText);
  if (host !== os.hostname()) return false; // another machine on a shared disk: cannot tell, wait
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
