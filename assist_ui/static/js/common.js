// callassist pages: the shared helpers in one namespace.  Pages import what they use from the
// modules here (`import * as CA from './common.js'`); the browser tests and the console reach
// the same namespace as window.CA.
import * as CA from './common.js';

export * from './api.js';
export * from './dom.js';
export * from './format.js';
export * from './i18n.js';
export * from './live.js';
export * from './reasons.js';
export * from './shell.js';
export * from './vocab.js';

window.CA = CA;
