// The public API of the library. The notebook, tests, benches and users import from here.
export * from './backend';
export * from './linear';
export * from './nf4';
export * from './nf4-op';
export * from './nf4-linear';
export * from './safetensors';
export * from './distilbert-config';
export * from './distilbert';
export * from './checkpoint';
export * from './lora-linear';
export * from './peft';
export * from './data';
export * from './random';
export * from './hub';
export * from './progress';
export * from './tokenizer';
