#!/usr/bin/env node
// npx loopguard [options] -- node app.js
export {};
