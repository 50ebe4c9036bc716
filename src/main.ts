import { ConfigError, loadConfig, type Config } from './config.ts';
import { serveProcess } from './serve.ts';

// boot: config -> prepare (db, migrations, keys) -> buildApp -> listen; graceful stop on SIGTERM/SIGINT (serve.ts).
function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`latchkey: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  return serveProcess(config);
}

main().catch((err: Error) => {
  process.stderr.write(`latchkey: failed to start: ${err.message}\n`);
  process.exit(1);
});
