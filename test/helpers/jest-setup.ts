// Runs before each test file. tfjs prints advice (install tfjs-node, backend already registered)
// through its logger unless PROD is set (IS_TEST would also check every kernel for leaks: slow).
import * as tf from '@tensorflow/tfjs';

tf.env().set('PROD', true);
