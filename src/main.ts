import { ConfigError, loadConfig } from './config.ts';
import { serveProcess } from './serve.ts';

// boot: config -> db -> migrate -> buildApp -> listen; graceful stop on SIGTERM/SIGINT (see serve.ts).
function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
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
