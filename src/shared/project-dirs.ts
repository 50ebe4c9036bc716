import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The project's folders of files read at run time, found from this module's own file. It sits one
// folder below the root in every form the server runs in: src/shared/ (tsx), dist/shared/ (tsc's
// output, which the CLI runs) and dist/server/ (the bundle `npm start` runs, one file for all).
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Page and email templates (Eta). */
export const VIEWS_DIR = path.join(ROOT, 'views');
/** Static files served under /static. */
export const PUBLIC_DIR = path.join(ROOT, 'public');
