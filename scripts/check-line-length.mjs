#!/usr/bin/env node
// Fails when a tracked source line is longer than 120 columns. The formatter wraps code at 120
// (biome.json) but leaves long strings and comments alone; this catches those.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const MAX = 120;
const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs', '*.js', '*.cjs', '*.eta', '*.css'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && fs.existsSync(f) && !f.startsWith('public/vendor/'));
let over = 0;
for (const file of files) {
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if ([...line].length <= MAX) return;
      over++;
      console.log(`${file}:${i + 1}: ${[...line].length} columns`);
    });
}
if (over > 0) {
  console.error(`${over} line(s) over ${MAX} columns`);
  process.exit(1);
}
