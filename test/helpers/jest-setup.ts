// Runs before each test file. tfjs prints advice (install tfjs-node, backend already registered)
// through its logger unless IS_TEST is set; in tests that is noise around the real output.
import * as tf from '@tensorflow/tfjs';

tf.env().set('IS_TEST', true);
