/**
 * Summarises a V8 .cpuprofile (`node --cpu-prof`): self time per function and per area (a
 * package under node_modules, a file under src/, Node's internals, GC), as milliseconds and as a
 * share of the time the process was not idle.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  /** Approximate CPU time: samples x the sampling interval. */
  selfMs: number;
  /** Share of busy samples, in percent. */
  pct: number;
  /** selfMs per answered request, µs (when the request count is known). */
  usPerReq?: number;
}
export interface ProfileSummary {
  file: string;
  samples: number;
  /** Requests answered while the profile ran (when known). */
  requests?: number;
  busyMs: number;
  idleMs: number;
  /**
   * Self time by area: a package, a file under src/, a node: module, GC; native code counts for its
   * JS caller's area.
   */
  topAreas: ProfileRow[];
  topFunctions: ProfileRow[];
  /** Named functions of the project (src/) by inclusive time: the share of samples with them on the stack. */
  topProjectInclusive: ProfileRow[];
}

/** `src/<path>.ts` for a project file, from its source (src/) or its compiled form (dist/); else null. */
function projectFile(url: string): string | null {
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const dist = url.indexOf('/dist/');
  if (dist >= 0 && !url.includes('node_modules'))
    return `src/${url.slice(dist + '/dist/'.length).replace(/\.js$/, '.ts')}`;
  return null;
}

/** node_modules/<pkg> (scoped too), src/<path>, node:<internal>; '' for a frame without a script. */
function areaOf(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url;
  // The server runs compiled (dist/x.js is src/x.ts): name project files by their source.
  const own = projectFile(url);
  if (own) return own;
  return path.basename(url);
}

/**
 * The server runs bundled (dist/server/, scripts/bundle-server.mjs): its frames are named by the
 * files they were bundled from (src/ or a package), through the bundle's source maps, so the areas
 * read as they did when every module was its own file.
 */
function unbundle(nodes: ProfileNode[]): void {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (url: string): SourceMap | null => {
    let map = maps.get(url);
    if (map === undefined) {
      const file = `${fileURLToPath(url)}.map`;
      map = fs.existsSync(file) ? new SourceMap(JSON.parse(fs.readFileSync(file, 'utf8'))) : null;
      maps.set(url, map);
    }
    return map;
  };
  for (const node of nodes) {
    const frame = node.callFrame;
    if (!frame.url.startsWith('file://') || !frame.url.includes('/dist/server/')) continue;
    const entry = mapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) as
      | { originalSource?: string }
      | undefined;
    if (!entry?.originalSource) continue;
    const dir = path.dirname(fileURLToPath(frame.url));
    frame.url = pathToFileURL(path.resolve(dir, entry.originalSource)).href;
  }
}

/**
 * Each sample counts as one sampling interval: under a loaded machine the recorded time deltas
 * include stretches where the process was not running at all, which are not its CPU time.
 * Samples taken inside the profiler's own start/stop calls (bench/lib/cpu-profiler.mjs) are dropped.
 */
export function summariseProfile(file: string, top = 15, intervalMs = 1, requests?: number): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  unbundle(profile.nodes);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

  // Shown with the file only: tsx's output keeps no useful line numbers.
  const label = (n: ProfileNode) => {
    const { functionName, url } = n.callFrame;
    const where = url
      ? url.includes('node_modules/')
        ? url.slice(url.lastIndexOf('node_modules/') + 13)
        : areaOf(url)
      : '';
    return `${functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
  };
  const stackOf = (id: number) => {
    const s: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) s.push(byId.get(cur)!);
    return s;
  };

  const fnTotals = new Map<string, number>();
  const areaTotals = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const [id, count] of hits) {
    const node = byId.get(id)!;
    const { functionName, url } = node.callFrame;
    if (functionName === '(idle)') {
      idle += count;
      continue;
    }
    const stack = stackOf(id);
    if (stack.some((f) => f.callFrame.url.endsWith('bench/lib/cpu-profiler.mjs'))) continue;
    busy += count;
    let area = areaOf(url);
    let name = label(node);
    if (!url) {
      // Native code: counted for the nearest caller with a script ("writev" under node:net, ...).
      const caller = stack.find((f) => f.callFrame.url);
      if (functionName.startsWith('(')) area = functionName;
      else {
        area = caller ? `${areaOf(caller.callFrame.url)} (native)` : '(native)';
        name = `${functionName} [native, from ${caller ? label(caller) : '?'}]`;
      }
    }
    add(areaTotals, area, count);
    add(fnTotals, name, count);
    const seen = new Set<string>();
    for (const f of stack) {
      const u = f.callFrame.url;
      if (!projectFile(u) || u.includes('node_modules') || !f.callFrame.functionName) continue;
      const k = label(f);
      if (seen.has(k)) continue;
      seen.add(k);
      add(inclusive, k, count);
    }
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => ({
        name,
        selfMs: n * intervalMs,
        pct: Math.round((1000 * n) / busy) / 10,
        ...(requests ? { usPerReq: Math.round((n * intervalMs * 10_000) / requests) / 10 } : {}),
      }));
  return {
    file,
    samples: profile.samples.length,
    ...(requests ? { requests } : {}),
    busyMs: busy * intervalMs,
    idleMs: idle * intervalMs,
    topAreas: rows(areaTotals),
    topFunctions: rows(fnTotals),
    topProjectInclusive: rows(inclusive),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const row = (r: ProfileRow) => {
    const perRequest = r.usPerReq !== undefined ? `  ${r.usPerReq.toFixed(1).padStart(6)} µs/req` : '';
    return `    ${r.pct.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(6)} ms${perRequest}  ${r.name}`;
  };
  const perReq = s.requests
    ? `, ${s.requests} requests: ${((s.busyMs * 1000) / s.requests).toFixed(0)} µs busy per request`
    : '';
  return [
    `  ${s.busyMs} ms busy, ${s.idleMs} ms idle (1 ms samples)${perReq}  ${s.file}`,
    '  self time by area:',
    ...s.topAreas.slice(0, 10).map(row),
    '  self time by function:',
    ...s.topFunctions.map(row),
    '  project functions (src/), inclusive:',
    ...s.topProjectInclusive.slice(0, 10).map(row),
  ].join('\n');
}

// `node --import tsx bench/lib/profile.ts FILE.cpuprofile [top]` prints one summary.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile.ts FILE.cpuprofile [top]');
  process.stdout.write(`${formatProfile(summariseProfile(file, Number(process.argv[3] ?? 25)))}\n`);
}
