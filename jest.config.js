/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is done once by `tsc --noEmit` in `npm test`; ts-jest only transpiles, file by file.
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        diagnostics: false,
        tsconfig: { isolatedModules: true, esModuleInterop: true, module: 'commonjs', target: 'ES2022', resolveJsonModule: true },
      },
    ],
  },
  // danfojs-node asks for @tensorflow/tfjs-node (overridden to a second tfjs, 3.21, in
  // package.json); it gets the project's tfjs instead, as lib/data/danfo.ts arranges outside jest.
  moduleNameMapper: { '^@tensorflow/tfjs-node$': '<rootDir>/node_modules/@tensorflow/tfjs' },
  setupFiles: ['<rootDir>/test/helpers/jest-setup.ts'],
  testTimeout: 120000,
  // tfjs backends are process-global: run test files in separate workers, never share one.
  maxWorkers: 2,
};
