// The public API of the library. The notebook, tests, benches and users import from here.
export * from './backend';
export * from './linear';
