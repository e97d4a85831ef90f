#!/usr/bin/env node
// `npm run bench -- <name>`: runs bench/<name>.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../bench/run.ts');
