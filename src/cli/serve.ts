import cluster from 'node:cluster';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { serveCluster, serveProcess } from '../serve.ts';
import { positiveInt } from './usage.ts';

/**
 * The bundled server beside the compiled CLI (dist/server/main.js, which `npm run build` makes
 * after dist/cli.js), or null when the CLI runs from src/. A server process runs it rather than the
 * CLI's own modules: the same code, held in less memory (scripts/bundle-server.mjs).
 */
function serverBundle(): string | null {
  const file = fileURLToPath(new URL('../server/main.js', import.meta.url));
  return fs.existsSync(file) ? file : null;
}

/** `latchkey serve [--workers N]`: the server, in one process or N behind a primary. */
export async function serve(args: string[]): Promise<undefined> {
  const { values } = parseArgs({ args, options: { workers: { type: 'string' } } });
  const config = loadConfig();
  const bundle = serverBundle();
  if (values.workers !== undefined && cluster.isPrimary)
    await serveCluster(config, positiveInt(values.workers, '--workers'), bundle ?? undefined);
  else if (bundle) await import(pathToFileURL(bundle).href);
  else await serveProcess(config);
  return undefined;
}
