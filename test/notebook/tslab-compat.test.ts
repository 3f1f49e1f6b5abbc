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

describe('no lib module shadows a Node built-in', () => {
  // Inside the kernel, tslab resolves a bare import such as 'http' among its compiled files first:
  // lib/hub/http.ts importing Node's 'http' loaded itself and recursed until the stack overflowed.
  it('no file or folder under lib/ is named like a Node built-in module it could shadow', () => {
    const builtins = new Set(require('module').builtinModules as string[]);
    const entries = fs.readdirSync(LIB, { recursive: true }) as string[];
    const clashes = entries
      .map((entry) => path.basename(entry).replace(/\.ts$/, ''))
      .filter((name) => builtins.has(name) && name !== 'util');
    expect(clashes).toEqual([]);
  });

  it('no lib module imports the built-in "util", which lib/util/ would shadow', () => {
    const files = (fs.readdirSync(LIB, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const offenders = files.filter((f) => /from ['"](node:)?util['"]|require\(['"](node:)?util['"]\)/.test(fs.readFileSync(path.join(LIB, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
