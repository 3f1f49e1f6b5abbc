// Switches a test file to tfjs' webgpu backend, or fails saying how to make it available.
//
// Runs on any WebGPU adapter Dawn finds. With no GPU it uses Mesa's software OpenGL (llvmpipe):
// QLORA_DAWN_FLAGS=backend=opengl and QLORA_WEBGPU_FEATURE_LEVEL=compatibility are defaulted here
// when unset (set them yourself to pick a real GPU's backend, e.g. QLORA_DAWN_FLAGS=backend=vulkan),
// but EGL_PLATFORM=surfaceless must already be in the environment jest starts with (`npm test`
// sets it): Mesa reads it with getenv, and jest's process.env is a copy. Needs the npm 'webgpu'
// package and, for the software path, Debian's libegl1, libegl-mesa0 and libgl1-mesa-dri. A test
// using this FAILS when no adapter loads: it never passes without running its kernels.
import { BackendChoice, useBackend } from '../../lib/backends/select';

export async function useWebGPUForTests(what: string): Promise<BackendChoice> {
  const eglPlatform = process.env.EGL_PLATFORM;
  process.env.QLORA_DAWN_FLAGS ??= 'backend=opengl';
  process.env.QLORA_WEBGPU_FEATURE_LEVEL ??= 'compatibility';
  try {
    return await useBackend('webgpu', { allowSoftwareWebGPU: true });
  } catch (e) {
    throw new Error(
      `WebGPU is not available, so ${what} cannot be tested: ${(e as Error).message}\n` +
        `Without a GPU: install Mesa (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri) and start jest ` +
        `with EGL_PLATFORM=surfaceless in its environment (now ${eglPlatform === undefined ? 'unset' : `'${eglPlatform}'`}), ` +
        `as npm test does.`,
    );
  }
}
