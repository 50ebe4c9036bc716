import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { serveCluster, serveProcess } from '../serve.ts';
import { positiveInt } from './usage.ts';

/** `latchkey serve [--workers N]`: the server, in one process or N behind a primary. */
export async function serve(args: string[]): Promise<undefined> {
  const { values } = parseArgs({ args, options: { workers: { type: 'string' } } });
  const config = loadConfig();
  if (values.workers !== undefined && cluster.isPrimary)
    await serveCluster(config, positiveInt(values.workers, '--workers'));
  else await serveProcess(config);
  return undefined;
}
