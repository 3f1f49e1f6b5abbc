// lib/util/progress.ts: rate/ETA arithmetic (hand-derived values) and what the console reporter prints.
import { ByteMeter, ByteProgress, consoleProgress, etaSeconds, formatProgress, progressHtml, progressLine, progressText } from '../../lib/util/progress';

describe('formatting', () => {
  test('a progress line', () => {
    const p: ByteProgress = { file: 'model.safetensors', bytes: 45_200_000, total: 268_000_000, rate: 12_300_000, etaSeconds: 18.1, done: false };
    expect(formatProgress(p)).toBe('model.safetensors  45.2 MB / 268.0 MB  16%  12.3 MB/s  ETA 00:18');
    expect(formatProgress({ ...p, total: null, etaSeconds: null })).toBe('model.safetensors  45.2 MB  12.3 MB/s');
    expect(formatProgress({ ...p, bytes: 268_000_000, done: true })).toBe('model.safetensors  268.0 MB / 268.0 MB  100%  12.3 MB/s  done');
  });
});

describe('ByteMeter', () => {
  afterEach(() => jest.useRealTimers());

  test('rate excludes resumed bytes; ETA = bytes left / rate', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const events: ByteProgress[] = [];
    // 500 bytes were already on disk from an earlier attempt; the file has 3 500.
    const meter = new ByteMeter('w.bin', 3500, 500, (e) => events.push(e));
    jest.setSystemTime(1_002_000); // 2 s later
    meter.add(1000); // 1 000 new bytes in 2 s → 500 B/s; 2 000 left → 4 s
    expect(events[0]).toEqual({ file: 'w.bin', bytes: 1500, total: 3500, rate: 500, etaSeconds: 4, done: false });
    jest.setSystemTime(1_006_000);
    meter.add(2000); // 3 000 new bytes in 6 s → 500 B/s; nothing left
    meter.finish();
    expect(events[2]).toEqual({ file: 'w.bin', bytes: 3500, total: 3500, rate: 500, etaSeconds: 0, done: true });
  });
});

describe('consoleProgress', () => {
  const event = (bytes: number, done = false): ByteProgress => ({ file: 'f.bin', bytes, total: 10_000, rate: 1000, etaSeconds: 1, done });

  function recorder(isTTY: boolean) {
    const lines: string[] = [];
    let clock = 0;
    const report = consoleProgress({ stream: { isTTY, write: (t: string) => lines.push(t) }, now: () => clock });
    return { lines, report, at: (t: number) => (clock = t) };
  }

  test('not a terminal: a plain line every 5 s, and a final one', () => {
    const r = recorder(false);
    r.at(0); r.report(event(100));
    r.at(4999); r.report(event(4000));
    expect(r.lines).toEqual([]);
    r.at(5000); r.report(event(5000));
    r.at(6000); r.report(event(6000));
    r.at(10_000); r.report(event(9000));
    r.at(10_500); r.report(event(10_000, true));
    expect(r.lines).toEqual([
      `${formatProgress(event(5000))}\n`,
      `${formatProgress(event(9000))}\n`,
      `${formatProgress(event(10_000, true))}\n`,
    ]);
  });

  test('a terminal: one line rewritten in place every 200 ms, ended by a newline', () => {
    const r = recorder(true);
    r.at(0); r.report(event(100));
    r.at(250); r.report(event(2500));
    r.at(300); r.report(event(3000));
    r.at(500); r.report(event(10_000, true));
    expect(r.lines).toEqual([`\r\x1b[K${formatProgress(event(2500))}`, `\r\x1b[K${formatProgress(event(10_000, true))}\n`]);
  });

  test('a transfer that ends before the first interval prints nothing', () => {
    const r = recorder(false);
    r.at(0); r.report(event(100));
    r.at(50); r.report(event(10_000, true));
    expect(r.lines).toEqual([]);
  });
});

describe('progress of counted tasks', () => {
  test('ETA at the average rate; a text line with a bar, counts and tqdm-style times', () => {
    const p = { label: 'train', done: 25, total: 100, elapsedSeconds: 10 };
    expect(etaSeconds(p)).toBeCloseTo(30, 12); // 10 s per 25 → 30 s for the other 75
    expect(etaSeconds({ ...p, done: 0 })).toBeNaN();
    expect(progressText(p, 10)).toBe('train [###.......] 25/100 (25%) · 00:10 elapsed, ETA 00:30');
    expect(progressText({ ...p, done: 0, info: 'loss ?' }, 4)).toBe('train [....] 0/100 (0%) · 00:10 elapsed, ETA ? · loss ?');
    expect(progressText({ ...p, done: 100, elapsedSeconds: 3725 }, 4)).toBe('train [####] 100/100 (100%) · 1:02:05 total');
  });

  test('the HTML bar escapes the label and the words', () => {
    const html = progressHtml({ label: '<b>', done: 1, total: 2, elapsedSeconds: 1, info: 'a & b' });
    expect(html).toBe(
      '<div class="qlora-progress" style="font-family:monospace"><b>&lt;b&gt;</b> ' +
        '<progress value="1" max="2" style="width:300px;vertical-align:middle"></progress> ' +
        '1/2 (50%) · 00:01 elapsed, ETA 00:01 · a &amp; b</div>',
    );
  });

  test('progressLine: rewritten in place on a terminal, whole lines elsewhere', () => {
    const tty: string[] = [];
    const t = progressLine({ isTTY: true, write: (s: string) => tty.push(s) });
    t.update('a');
    t.note('n');
    t.update('b');
    t.end('c');
    t.note('m');
    expect(tty).toEqual(['\r\x1b[Ka', '\nn\n', '\r\x1b[Kb', '\r\x1b[Kc\n', 'm\n']);
    const log: string[] = [];
    const l = progressLine({ write: (s: string) => log.push(s) });
    l.update('a');
    l.note('n');
    l.end('c');
    expect(log).toEqual(['a\n', 'n\n', 'c\n']);
  });
});
