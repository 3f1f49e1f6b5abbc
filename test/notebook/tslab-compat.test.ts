// tslab (the notebook kernel) compiles only the .ts files that modules import statically: a
// `require('./x')` of a sibling module inside lib/ works in jest and ts-node but fails in the
// notebook, where it silently cost us the wasm backend (backend.ts fell through to plain JS) and
// would have broken Hub downloads of datasets. Keep lib/ on static imports.
import * as fs from 'fs';
import * as path from 'path';

const LIB = path.join(__dirname, '..', '..', 'lib');

describe('lib/ is loadable by tslab', () => {
  it('no lib module require()s a relative path', () => {
    const offenders: string[] = [];
    const files = (fs.readdirSync(LIB, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(30);
    for (const file of files) {
      const lines = fs.readFileSync(path.join(LIB, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/\brequire\(\s*['"`]\.{1,2}\//.test(line) && !line.trim().startsWith('//')) offenders.push(`lib/${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  // tslab's require joins even a bare name to the importing file's folder first
  // (executor.js requireFromSideOutputs): in lib/hub/http.ts, `import * as http from 'http'`
  // loaded lib/hub/http.js itself, forever ("Maximum call stack size exceeded" in the first cell).
  it("no lib module imports a package or builtin that a file in its own folder is named after", () => {
    const offenders: string[] = [];
    for (const file of (fs.readdirSync(LIB, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'))) {
      const source = fs.readFileSync(path.join(LIB, file), 'utf8');
      for (const m of source.matchAll(/(?:from|require\()\s*['"]([^./'"][^'"]*)['"]/g)) {
        if (fs.existsSync(path.join(LIB, path.dirname(file), `${m[1]}.ts`))) offenders.push(`lib/${file} imports '${m[1]}', shadowed by lib/${path.join(path.dirname(file), m[1])}.ts`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('the notebook imports what tslab can resolve', () => {
  // tslab looks a relative import up as <path>.js among the files it compiled, so `./lib` (a
  // folder) is not found in the kernel although Node and ts-node resolve it to lib/index.ts.
  it('every relative import of DistilBert_QLoRA.ipynb names a .ts file', () => {
    const notebook = JSON.parse(fs.readFileSync(path.join(LIB, '..', 'DistilBert_QLoRA.ipynb'), 'utf8'));
    const sources = notebook.cells.filter((c: { cell_type: string }) => c.cell_type === 'code').map((c: { source: string[] }) => c.source.join(''));
    const specifiers = sources.flatMap((s: string) => [...s.matchAll(/from '(\.[^']*)'/g)].map((m) => m[1]));
    expect(specifiers.length).toBeGreaterThan(10);
    const missing = specifiers.filter((spec: string) => !fs.existsSync(path.join(LIB, '..', `${spec}.ts`)));
    expect(missing).toEqual([]);
  });
});
