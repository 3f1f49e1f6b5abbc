#!/usr/bin/env node
// Compiles native/*.c into a Node addon (a GEMM on the system's OpenBLAS, fused elementwise
// kernels), if this machine can: a C compiler and Node's N-API headers are all it needs
// (OpenBLAS is opened at run time, not linked). Used two ways:
//
//   node native/build.js --postinstall   from `npm install`: never fails, says what it did
//   node native/build.js <outFile>       from lib/backends/native.ts on first use
//
// Plain JavaScript on purpose: it runs before any TypeScript tooling may be installed.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const SOURCES = ['addon.c', 'elementwise.c', 'attention.c'].map((f) => path.join(__dirname, f));

/** Where the addon goes by default: next to its source, one file per platform and CPU. */
function defaultOutFile() {
  return path.join(__dirname, 'build', `qlora-native-${process.platform}-${process.arch}.node`);
}

function findHeaders() {
  const candidates = [
    process.env.QLORA_NODE_INCLUDE,
    path.join(path.dirname(process.execPath), '..', 'include', 'node'), // official Node tarballs
    '/usr/include/node', // Debian/Ubuntu nodejs
    '/usr/local/include/node',
    path.join(require('os').homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  ].filter(Boolean);
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

function findCompiler() {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    const r = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return cc;
  }
  return undefined;
}

/** Builds the addon; returns the file written, or throws an Error saying why it could not. */
function build(outFile = defaultOutFile()) {
  if (process.platform === 'win32') throw new Error('not built on Windows (no dlopen); the wasm GEMM is used');
  const headers = findHeaders();
  if (!headers) throw new Error("Node's N-API headers (node_api.h) were not found; set QLORA_NODE_INCLUDE to their folder");
  const cc = findCompiler();
  if (!cc) throw new Error('no C compiler (cc, gcc or clang) on PATH');
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  // -O3 vectorises the elementwise loops; no -ffast-math: results must match the JS twins.
  const args = ['-O3', '-shared', '-fPIC', `-I${headers}`, '-DNODE_GYP_MODULE_NAME=qlora_native', ...SOURCES, '-o', tmp];
  // macOS: N-API symbols are resolved from the node binary when the addon loads.
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  else args.push('-ldl');
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${cc} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
  }
  fs.renameSync(tmp, outFile); // atomic: a concurrent loader never sees half a file
  return outFile;
}

module.exports = { build, defaultOutFile, SOURCES };

if (require.main === module) {
  const postinstall = process.argv.includes('--postinstall');
  const out = process.argv.slice(2).find((a) => !a.startsWith('--'));
  try {
    const file = build(out);
    console.log(`native addon built: ${path.relative(process.cwd(), file)}`);
  } catch (e) {
    console.log(`native addon not built (${e.message}); tfjs' own wasm kernels will be used unless a prebuilt GEMM engine is installed`);
    if (!postinstall) process.exit(1);
  }
}
