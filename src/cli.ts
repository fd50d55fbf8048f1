#!/usr/bin/env node
console.log('apg: not yet');
